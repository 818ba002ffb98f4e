/*
 * drydock-service.exe: the Windows service host for the Drydock agent (ADR 0023).
 *
 * node.exe cannot answer the service control manager, so this small host does: the SCM starts it
 * as SYSTEM at boot; it runs drydock-agent.exe in a job object (the agent never outlives it),
 * restarts the agent with back-off when it fails, and on a service stop closes the agent's stdin
 * (the agent's stop signal: a process without a console gets no Ctrl-C), waits for it, and only
 * then kills it. The SCM's own failure actions restart the host if the host itself dies.
 *
 * It is also the installers' helper, so that both the NSIS .exe and the .msi do the same things:
 *   drydock-service install | uninstall | start | stop
 *   drydock-service secure-dir DIR        create DIR readable only by SYSTEM and Administrators
 *   drydock-service configure --config FILE --api-url URL --site-code CODE --enroll-key KEY
 *                             [--fingerprint "vN (XXXX)"]
 *                             write the agent config (generic installers, command-line overrides)
 * Built on Linux with mingw-w64 (installer/build-service-host.ts), signed like the agent.
 */
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE
#define UNICODE
#define _UNICODE
#endif
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
#include <stdio.h>
#include <wchar.h>

#define SERVICE_NAME L"DrydockAgent"
#define DISPLAY_NAME L"Drydock Agent"
#define DESCRIPTION L"Runs the Drydock endpoint agent (drydock-agent.exe) and restarts it when it fails."
/* Only SYSTEM and Administrators, inherited by everything below, no inheritance from above. */
#define PRIVATE_SDDL L"O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
#define EXIT_GIVE_UP 3 /* the agent stopped for good: revoked, rejected, outdated installer */
#define STOP_WAIT_MS 20000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 300000
#define HEALTHY_RUN_MS 600000 /* a run this long resets the back-off */
#define LOG_ROTATE_BYTES (10 * 1024 * 1024)

static SERVICE_STATUS_HANDLE g_status_handle;
static SERVICE_STATUS g_status;
static HANDLE g_stop_event;
static wchar_t g_agent[MAX_PATH], g_config[MAX_PATH], g_log[MAX_PATH];

static void set_status(DWORD state, DWORD exit_code, DWORD specific, DWORD wait_hint) {
  static DWORD checkpoint = 1;
  g_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  g_status.dwCurrentState = state;
  g_status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  g_status.dwWin32ExitCode = exit_code;
  g_status.dwServiceSpecificExitCode = specific;
  g_status.dwWaitHint = wait_hint;
  g_status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : checkpoint++;
  if (g_status_handle) SetServiceStatus(g_status_handle, &g_status);
}

static void host_log(const char *fmt, const wchar_t *arg, DWORD number) {
  HANDLE f = CreateFileW(g_log, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  if (f == INVALID_HANDLE_VALUE) return;
  SYSTEMTIME t;
  GetSystemTime(&t);
  char line[1024], narrow[512] = "";
  if (arg) WideCharToMultiByte(CP_UTF8, 0, arg, -1, narrow, sizeof narrow, NULL, NULL);
  int n = snprintf(line, sizeof line, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ [service] ", t.wYear, t.wMonth,
                   t.wDay, t.wHour, t.wMinute, t.wSecond, t.wMilliseconds);
  n += snprintf(line + n, sizeof line - n, fmt, arg ? narrow : "", (unsigned long)number);
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  DWORD written;
  WriteFile(f, line, n, &written, NULL);
  CloseHandle(f);
}

static BOOL dir_of_self(wchar_t *out, DWORD size) {
  DWORD n = GetModuleFileNameW(NULL, out, size);
  if (n == 0 || n >= size) return FALSE;
  wchar_t *slash = wcsrchr(out, L'\\');
  if (!slash) return FALSE;
  *slash = 0;
  return TRUE;
}

/* Defaults: the agent beside this host; config and log under %ProgramData%\Drydock. */
static BOOL default_paths(void) {
  wchar_t dir[MAX_PATH], data[MAX_PATH] = L"C:\\ProgramData";
  if (!dir_of_self(dir, MAX_PATH)) return FALSE;
  /* The known folder, not %ProgramData%: a service's environment is not a user's. */
  PWSTR known = NULL;
  if (SUCCEEDED(SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, NULL, &known)) && wcslen(known) < MAX_PATH)
    wcscpy(data, known);
  CoTaskMemFree(known);
  _snwprintf(g_agent, MAX_PATH, L"%ls\\drydock-agent.exe", dir);
  _snwprintf(g_config, MAX_PATH, L"%ls\\Drydock\\agent.json", data);
  _snwprintf(g_log, MAX_PATH, L"%ls\\Drydock\\logs\\agent.log", data);
  return TRUE;
}

static void ensure_log_dir(void) {
  wchar_t dir[MAX_PATH];
  wcsncpy(dir, g_log, MAX_PATH - 1);
  dir[MAX_PATH - 1] = 0;
  wchar_t *slash = wcsrchr(dir, L'\\');
  if (slash) *slash = 0;
  CreateDirectoryW(dir, NULL); /* inherits the private ACL of %ProgramData%\Drydock */
}

static void rotate_log(void) {
  WIN32_FILE_ATTRIBUTE_DATA info;
  if (!GetFileAttributesExW(g_log, GetFileExInfoStandard, &info)) return;
  if (info.nFileSizeHigh == 0 && info.nFileSizeLow < LOG_ROTATE_BYTES) return;
  wchar_t old[MAX_PATH];
  _snwprintf(old, MAX_PATH, L"%ls.1", g_log);
  MoveFileExW(g_log, old, MOVEFILE_REPLACE_EXISTING);
}

/* Restart the host after 10 s, 60 s, then every 5 min; forget failures after a day. */
static BOOL set_failure_actions(SC_HANDLE service) {
  SC_ACTION actions[3] = {{SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}, {SC_ACTION_RESTART, 300000}};
  SERVICE_FAILURE_ACTIONSW failure = {86400, NULL, NULL, 3, actions};
  return ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, &failure);
}

static void ensure_own_failure_actions(void) {
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  if (!scm) return;
  SC_HANDLE service = OpenServiceW(scm, SERVICE_NAME, SERVICE_CHANGE_CONFIG | SERVICE_START);
  if (service) {
    if (!set_failure_actions(service)) host_log("could not set failure actions%s (error %lu)", NULL, GetLastError());
    CloseServiceHandle(service);
  }
  CloseServiceHandle(scm);
}

typedef struct {
  HANDLE process;
  HANDLE stdin_write;
} child_t;

static BOOL start_agent(HANDLE job, child_t *child) {
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE stdin_read, log;
  ensure_log_dir();
  rotate_log();
  if (!CreatePipe(&stdin_read, &child->stdin_write, &inherit, 0)) return FALSE;
  SetHandleInformation(child->stdin_write, HANDLE_FLAG_INHERIT, 0);
  log = CreateFileW(g_log, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_ALWAYS,
                    FILE_ATTRIBUTE_NORMAL, NULL);
  if (log == INVALID_HANDLE_VALUE) log = NULL;
  STARTUPINFOW si;
  ZeroMemory(&si, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = stdin_read;
  si.hStdOutput = log;
  si.hStdError = log;
  PROCESS_INFORMATION pi;
  wchar_t cmd[3 * MAX_PATH + 64];
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" --config \"%ls\" --stop-on-stdin-close", g_agent,
             g_config);
  BOOL ok = CreateProcessW(g_agent, cmd, NULL, NULL, TRUE, CREATE_NO_WINDOW | CREATE_SUSPENDED, NULL, NULL, &si,
                           &pi);
  DWORD error = GetLastError();
  CloseHandle(stdin_read);
  if (log) CloseHandle(log);
  if (!ok) {
    CloseHandle(child->stdin_write);
    host_log("cannot start %s (error %lu)", g_agent, error);
    return FALSE;
  }
  AssignProcessToJobObject(job, pi.hProcess);
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  child->process = pi.hProcess;
  host_log("started %s (pid %lu)", g_agent, pi.dwProcessId);
  return TRUE;
}

/* Close the agent's stdin, wait for it to finish its step and exit, then kill what is left. */
static void stop_agent(HANDLE job, child_t *child) {
  if (!child->process) return;
  CloseHandle(child->stdin_write);
  child->stdin_write = NULL;
  DWORD waited = 0;
  while (waited < STOP_WAIT_MS && WaitForSingleObject(child->process, 1000) == WAIT_TIMEOUT) {
    waited += 1000;
    set_status(SERVICE_STOP_PENDING, NO_ERROR, 0, 3000);
  }
  DWORD code = 0;
  GetExitCodeProcess(child->process, &code);
  if (code == STILL_ACTIVE) {
    host_log("the agent did not stop in time%s; ending it", NULL, 0);
    TerminateJobObject(job, 1);
  } else
    host_log("the agent stopped%s (exit %lu)", NULL, code);
  CloseHandle(child->process);
  child->process = NULL;
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID context) {
  (void)type, (void)data, (void)context;
  if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
    set_status(SERVICE_STOP_PENDING, NO_ERROR, 0, STOP_WAIT_MS + 5000);
    SetEvent(g_stop_event);
    return NO_ERROR;
  }
  return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

static void WINAPI service_main(DWORD argc, wchar_t **argv) {
  (void)argc, (void)argv;
  g_status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, control_handler, NULL);
  if (!g_status_handle) return;
  set_status(SERVICE_START_PENDING, NO_ERROR, 0, 5000);
  g_stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  HANDLE job = CreateJobObjectW(NULL, NULL);
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  ZeroMemory(&limits, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits);
  set_status(SERVICE_RUNNING, NO_ERROR, 0, 0);
  /* After RUNNING: while a start is pending the service control manager may hold its database lock. */
  ensure_own_failure_actions();

  child_t child = {NULL, NULL};
  DWORD backoff = BACKOFF_FIRST_MS, specific = 0;
  for (;;) {
    ULONGLONG started = GetTickCount64();
    if (!start_agent(job, &child)) {
      if (WaitForSingleObject(g_stop_event, backoff) == WAIT_OBJECT_0) break;
      backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
      continue;
    }
    HANDLE waits[2] = {g_stop_event, child.process};
    if (WaitForMultipleObjects(2, waits, FALSE, INFINITE) == WAIT_OBJECT_0) {
      stop_agent(job, &child);
      break;
    }
    DWORD code = 0;
    GetExitCodeProcess(child.process, &code);
    CloseHandle(child.process);
    CloseHandle(child.stdin_write);
    child.process = child.stdin_write = NULL;
    if (code == EXIT_GIVE_UP) {
      host_log("the agent stopped for good%s (exit %lu): see the lines above; the service stops", NULL, code);
      specific = EXIT_GIVE_UP;
      break;
    }
    if (GetTickCount64() - started >= HEALTHY_RUN_MS) backoff = BACKOFF_FIRST_MS;
    host_log("the agent exited%s (code %lu); restarting after back-off", NULL, code);
    if (WaitForSingleObject(g_stop_event, backoff) == WAIT_OBJECT_0) break;
    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
  }
  CloseHandle(job);
  /* A give-up is a service-specific error, not a crash: the SCM does not restart it. */
  set_status(SERVICE_STOPPED, specific ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR, specific, 0);
}

/* ---- installer helpers ---- */

static int fail(const wchar_t *what, DWORD error) {
  fwprintf(stderr, L"drydock-service: %ls (error %lu)\n", what, (unsigned long)error);
  return 1;
}

static int cmd_install(void) {
  wchar_t self[MAX_PATH], bin[MAX_PATH + 2];
  if (!GetModuleFileNameW(NULL, self, MAX_PATH)) return fail(L"cannot find itself", GetLastError());
  _snwprintf(bin, MAX_PATH + 2, L"\"%ls\"", self);
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
  if (!scm) return fail(L"cannot open the service control manager", GetLastError());
  SC_HANDLE service = CreateServiceW(scm, SERVICE_NAME, DISPLAY_NAME, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                     SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, bin, NULL, NULL, NULL, NULL, NULL);
  if (!service && GetLastError() == ERROR_SERVICE_EXISTS) {
    /* An upgrade: same service, pointed at this host. */
    service = OpenServiceW(scm, SERVICE_NAME, SERVICE_ALL_ACCESS);
    if (service && !ChangeServiceConfigW(service, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                         SERVICE_ERROR_NORMAL, bin, NULL, NULL, NULL, NULL, NULL, DISPLAY_NAME))
      return fail(L"cannot update the service", GetLastError());
  }
  if (!service) return fail(L"cannot create the service", GetLastError());
  SERVICE_DESCRIPTIONW description = {DESCRIPTION};
  ChangeServiceConfig2W(service, SERVICE_CONFIG_DESCRIPTION, &description);
  if (!set_failure_actions(service)) return fail(L"cannot set the failure actions", GetLastError());
  CloseServiceHandle(service);
  CloseServiceHandle(scm);
  wprintf(L"service %ls installed\n", SERVICE_NAME);
  return 0;
}

static int wait_state(SC_HANDLE service, DWORD want, DWORD timeout_ms) {
  SERVICE_STATUS status;
  for (DWORD waited = 0; waited <= timeout_ms; waited += 500) {
    if (!QueryServiceStatus(service, &status)) return 0;
    if (status.dwCurrentState == want) return 1;
    Sleep(500);
  }
  return 0;
}

static int cmd_control(const wchar_t *verb) {
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  if (!scm) return fail(L"cannot open the service control manager", GetLastError());
  SC_HANDLE service = OpenServiceW(scm, SERVICE_NAME, SERVICE_START | SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
  if (!service) {
    DWORD error = GetLastError();
    CloseServiceHandle(scm);
    if (error == ERROR_SERVICE_DOES_NOT_EXIST && wcscmp(verb, L"start") != 0) return 0; /* nothing to stop */
    return fail(L"cannot open the service", error);
  }
  int rc = 0;
  if (wcscmp(verb, L"start") == 0) {
    if (!StartServiceW(service, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
      rc = fail(L"cannot start the service", GetLastError());
    else if (!wait_state(service, SERVICE_RUNNING, 30000))
      rc = fail(L"the service did not reach running", 0);
  } else {
    SERVICE_STATUS status;
    if (ControlService(service, SERVICE_CONTROL_STOP, &status) || GetLastError() == ERROR_SERVICE_NOT_ACTIVE) {
      if (!wait_state(service, SERVICE_STOPPED, STOP_WAIT_MS + 10000)) rc = fail(L"the service did not stop", 0);
    }
    if (rc == 0 && wcscmp(verb, L"uninstall") == 0 && !DeleteService(service))
      rc = fail(L"cannot delete the service", GetLastError());
  }
  CloseServiceHandle(service);
  CloseServiceHandle(scm);
  if (rc == 0) wprintf(L"service %ls: %ls done\n", SERVICE_NAME, verb);
  return rc;
}

/* Whether `sid` is this process's own user: an elevated installer owns what it created before. */
static BOOL is_own_user(PSID sid) {
  HANDLE token;
  BYTE buffer[256];
  DWORD size;
  BOOL same = FALSE;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return FALSE;
  if (GetTokenInformation(token, TokenUser, buffer, sizeof buffer, &size))
    same = EqualSid(sid, ((TOKEN_USER *)buffer)->User.Sid);
  CloseHandle(token);
  return same;
}

/* Creates DIR with the private ACL at once (never a moment with ProgramData's), or resets it. */
static int cmd_secure_dir(const wchar_t *dir) {
  PSECURITY_DESCRIPTOR sd;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(PRIVATE_SDDL, SDDL_REVISION_1, &sd, NULL))
    return fail(L"bad security descriptor", GetLastError());
  SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
  int rc = 0;
  if (!CreateDirectoryW(dir, &sa)) {
    if (GetLastError() != ERROR_ALREADY_EXISTS) {
      rc = fail(L"cannot create the directory", GetLastError());
    } else {
      /*
       * It exists: someone else may have made it (a user who owns it could change its ACL back).
       * Only SYSTEM, Administrators or the account running this installer may own it.
       */
      PSID owner = NULL;
      PSECURITY_DESCRIPTOR existing = NULL;
      DWORD error = GetNamedSecurityInfoW(dir, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL,
                                          NULL, &existing);
      if (error != ERROR_SUCCESS) {
        rc = fail(L"cannot read the directory's owner", error);
      } else if (!IsWellKnownSid(owner, WinLocalSystemSid) && !IsWellKnownSid(owner, WinBuiltinAdministratorsSid) &&
                 !is_own_user(owner)) {
        rc = fail(L"the directory exists and is owned by someone other than SYSTEM or Administrators; remove it",
                  ERROR_ACCESS_DENIED);
      } else {
        BOOL present, defaulted;
        PACL dacl;
        GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
        error = SetNamedSecurityInfoW((LPWSTR)dir, SE_FILE_OBJECT,
                                      DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL,
                                      dacl, NULL);
        if (error != ERROR_SUCCESS) rc = fail(L"cannot set the directory's ACL", error);
      }
      if (existing) LocalFree(existing);
    }
  }
  LocalFree(sd);
  if (rc == 0) wprintf(L"%ls: SYSTEM and Administrators only\n", dir);
  return rc;
}

static int only(const wchar_t *value, const wchar_t *allowed, size_t min, size_t max) {
  size_t n = wcslen(value);
  return n >= min && n <= max && wcsspn(value, allowed) == n;
}

#define UPPER L"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER L"abcdefghijklmnopqrstuvwxyz"
#define DIGITS L"0123456789"

/*
 * Writes the agent config from the command line: what a generic installer (or an override flag)
 * supplies. Every value is checked against a character set that needs no JSON escaping.
 */
static int cmd_configure(int argc, wchar_t **argv) {
  const wchar_t *config = NULL, *api = NULL, *site = NULL, *key = NULL, *fingerprint = NULL;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (wcscmp(argv[i], L"--config") == 0) config = argv[i + 1];
    else if (wcscmp(argv[i], L"--api-url") == 0) api = argv[i + 1];
    else if (wcscmp(argv[i], L"--site-code") == 0) site = argv[i + 1];
    else if (wcscmp(argv[i], L"--enroll-key") == 0) key = argv[i + 1];
    else if (wcscmp(argv[i], L"--fingerprint") == 0) fingerprint = argv[i + 1];
    else return fail(L"configure: unknown option", ERROR_INVALID_PARAMETER);
  }
  if (!config || !api || !site || !key)
    return fail(L"configure needs --config, --api-url, --site-code and --enroll-key", ERROR_INVALID_PARAMETER);
  /* As the agent requires (agent/config.ts): https, or plain http to this machine's loopback only. */
  BOOL loopback = wcsncmp(api, L"http://127.", 11) == 0 || wcsncmp(api, L"http://localhost", 16) == 0 ||
                  wcsncmp(api, L"http://[::1]", 12) == 0;
  if (!(wcsncmp(api, L"https://", 8) == 0 || loopback) || !only(api, UPPER LOWER DIGITS L":/.-_[]~", 10, 300))
    return fail(L"--api-url must be an https URL (http only to a loopback address)", ERROR_INVALID_PARAMETER);
  if (!only(site, UPPER DIGITS L"-", 3, 32))
    return fail(L"--site-code must be 3-32 upper-case letters, digits or dashes", ERROR_INVALID_PARAMETER);
  if (wcsncmp(key, L"dek_", 4) != 0 || !only(key, UPPER LOWER DIGITS L"_-", 20, 100))
    return fail(L"--enroll-key is not an enrollment key (dek_...)", ERROR_INVALID_PARAMETER);
  if (fingerprint && (fingerprint[0] != L'v' || !only(fingerprint, L"v" DIGITS L" ()ABCDEF", 8, 16)))
    return fail(L"--fingerprint must look like v3 (7F2A)", ERROR_INVALID_PARAMETER);
  wchar_t json[1024], tmp[MAX_PATH + 8];
  int n = _snwprintf(json, 1024, L"{\n  \"apiUrl\": \"%ls\",\n  \"siteCode\": \"%ls\",\n  \"enrollmentKey\": \"%ls\"",
                     api, site, key);
  if (fingerprint) n += _snwprintf(json + n, 1024 - n, L",\n  \"fingerprint\": \"%ls\"", fingerprint);
  _snwprintf(json + n, 1024 - n, L"\n}\n");
  char utf8[1024];
  int bytes = WideCharToMultiByte(CP_UTF8, 0, json, -1, utf8, sizeof utf8, NULL, NULL) - 1;
  _snwprintf(tmp, MAX_PATH + 8, L"%ls.tmp", config);
  HANDLE f = CreateFileW(tmp, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  if (f == INVALID_HANDLE_VALUE) return fail(L"cannot write the config", GetLastError());
  DWORD written;
  BOOL ok = WriteFile(f, utf8, (DWORD)bytes, &written, NULL) && FlushFileBuffers(f);
  CloseHandle(f);
  if (!ok || !MoveFileExW(tmp, config, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
    return fail(L"cannot write the config", GetLastError());
  wprintf(L"%ls written for site %ls\n", config, site);
  return 0;
}

static int usage(void) {
  fwprintf(stderr, L"drydock-service: the Drydock agent's Windows service host.\n"
                   L"  (no arguments)            run as the service (the service control manager does this)\n"
                   L"  install | uninstall | start | stop\n"
                   L"  secure-dir DIR\n"
                   L"  configure --config FILE --api-url URL --site-code CODE --enroll-key KEY "
                   L"[--fingerprint F]\n");
  return 2;
}

int wmain(int argc, wchar_t **argv) {
  if (!default_paths()) return fail(L"cannot find its own folder", GetLastError());
  if (argc >= 2) {
    if (wcscmp(argv[1], L"install") == 0) return cmd_install();
    if (wcscmp(argv[1], L"uninstall") == 0 || wcscmp(argv[1], L"start") == 0 || wcscmp(argv[1], L"stop") == 0)
      return cmd_control(argv[1]);
    if (wcscmp(argv[1], L"secure-dir") == 0 && argc == 3) return cmd_secure_dir(argv[2]);
    if (wcscmp(argv[1], L"configure") == 0) return cmd_configure(argc, argv);
    return usage();
  }
  SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
  if (!StartServiceCtrlDispatcherW(table)) {
    if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) return usage();
    return fail(L"the service dispatcher failed", GetLastError());
  }
  return 0;
}
