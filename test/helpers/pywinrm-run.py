"""Runs commands through Debian's python3-winrm (an independent WS-Management client) and prints
JSON: what the test WS-Man server is checked against. Usage: pywinrm-run.py '<json spec>'."""
import json
import sys

import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMError

spec = json.loads(sys.argv[1])
kwargs = dict(
    transport=spec["transport"],
    server_cert_validation=spec.get("validation", "validate"),
    operation_timeout_sec=spec.get("operation_timeout", 20),
    read_timeout_sec=spec.get("operation_timeout", 20) + 10,
)
if spec.get("ca"):
    kwargs["ca_trust_path"] = spec["ca"]
if spec.get("encryption"):
    kwargs["message_encryption"] = spec["encryption"]
session = winrm.Session(spec["url"], auth=(spec["user"], spec["password"]), **kwargs)
results = []
try:
    for step in spec["steps"]:
        if "ps" in step:
            r = session.run_ps(step["ps"])
        else:
            r = session.run_cmd(step["cmd"], step.get("args", []))
        results.append(dict(stdout=r.std_out.decode("utf-8"), stderr=r.std_err.decode("utf-8"), code=r.status_code))
    print(json.dumps(dict(ok=True, results=results)))
except InvalidCredentialsError as e:
    print(json.dumps(dict(ok=False, error="credentials", message=str(e))))
except WinRMError as e:
    print(json.dumps(dict(ok=False, error="winrm", message=str(e))))
