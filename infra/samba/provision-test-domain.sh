#!/usr/bin/env bash
# Provisions a real Active Directory domain with Debian's Samba, for the site gateway's tests and
# for trying onboarding by hand (docs/onboarding.md). Run as root (Samba's DC needs it).
#
#   infra/samba/provision-test-domain.sh DIR [COMPUTERS]
#
# DIR gets the domain (etc/smb.conf, private/, a CA and an LDAPS certificate in tls/). The DC is
# dc1.drydock.test on its own loopback address (SAMBA_IP, default 127.0.15.1, added to `lo`), with
# Samba's internal DNS serving the domain's SRV records on it. Contents:
#   OU=Servers: SRV-FILE01, SRV-APP01 (Windows Server 2022); SRV-OLD01 disabled
#   OU=Workstations: COMPUTERS workstations WS-0001… (Windows 11), every 50th disabled,
#     with lastLogonTimestamp set (the first three two years ago: stale)
#   OU=Disabled: WS-GONE01 (disabled)
#   users: Administrator (ADMIN_PASSWORD) and drydock-svc (SVC_PASSWORD), the "one domain credential"
# Start it with: samba -i -M single -s DIR/etc/smb.conf
set -euo pipefail

dir=${1:?usage: provision-test-domain.sh DIR [COMPUTERS]}
computers=${2:-500}
ip=${SAMBA_IP:-127.0.15.1}
realm=DRYDOCK.TEST
domain=DRYDOCK
base=DC=drydock,DC=test
admin_password=${ADMIN_PASSWORD:-Adm1n-Dryd0ck!}
svc_password=${SVC_PASSWORD:-Svc-Dryd0ck-2026!}

if [[ $EUID -ne 0 ]]; then
  echo "provision-test-domain: Samba's domain controller must run as root" >&2
  exit 2
fi
# grep reads all of it: with -q it would stop early, `ip` would die of SIGPIPE, and pipefail would
# call the address missing.
ip -o addr show dev lo | grep -F "inet $ip/" >/dev/null || ip addr add "$ip/32" dev lo

rm -rf "$dir"
mkdir -p "$dir/tls"
dir=$(cd "$dir" && pwd)

# A private CA and the DC's LDAPS certificate (names and IP), so clients can validate or pin it.
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Drydock Test Domain CA" \
  -keyout "$dir/tls/ca-key.pem" -out "$dir/tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=dc1.drydock.test" \
  -keyout "$dir/tls/key.pem" -out "$dir/tls/dc1.csr" 2>/dev/null
printf 'subjectAltName=DNS:dc1.drydock.test,DNS:drydock.test,IP:%s\nextendedKeyUsage=serverAuth\n' "$ip" >"$dir/tls/ext.cnf"
openssl x509 -req -in "$dir/tls/dc1.csr" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca-key.pem" -CAcreateserial \
  -days 3650 -sha256 -extfile "$dir/tls/ext.cnf" -out "$dir/tls/cert.pem" 2>/dev/null
chmod 600 "$dir/tls/key.pem"

samba-tool domain provision --quiet --use-rfc2307 \
  --realm="$realm" --domain="$domain" --server-role=dc --dns-backend=SAMBA_INTERNAL \
  --host-name=dc1 --host-ip="$ip" --adminpass="$admin_password" --targetdir="$dir" \
  --option="interfaces = $ip" --option="bind interfaces only = yes" \
  --option="dns forwarder = 0.0.0.0" \
  --option="tls enabled = yes" --option="tls keyfile = $dir/tls/key.pem" \
  --option="tls certfile = $dir/tls/cert.pem" --option="tls cafile = $dir/tls/ca.pem" \
  --option="server services = ldap, cldap, kdc, drepl, dns" \
  >"$dir/provision.log"

sam="$dir/private/sam.ldb"
conf="$dir/etc/smb.conf"
tool() { samba-tool "$@" -H "$sam" -s "$conf" >/dev/null; }

tool ou create "OU=Servers,$base"
tool ou create "OU=Workstations,$base"
tool ou create "OU=Disabled,$base"
tool user create drydock-svc "$svc_password" --description="Drydock site gateway"
for name in SRV-FILE01 SRV-APP01 SRV-OLD01; do
  tool computer create "$name" --computerou="OU=Servers" --description="server"
done
tool computer create WS-GONE01 --computerou="OU=Disabled"

# Windows FILETIME (100 ns since 1601) for "days ago".
filetime() { echo $((($(date +%s) - $1 * 86400 + 11644473600) * 10000000)); }
recent=$(filetime 3)
stale=$(filetime 730)

# Server attributes samba-tool does not set.
{
  for name in SRV-FILE01 SRV-APP01 SRV-OLD01; do
    lower=$(echo "$name" | tr 'A-Z' 'a-z')
    cat <<LDIF
dn: CN=$name,OU=Servers,$base
changetype: modify
replace: userAccountControl
userAccountControl: 4096
-
replace: dNSHostName
dNSHostName: $lower.drydock.test
-
replace: operatingSystem
operatingSystem: Windows Server 2022 Datacenter
-
replace: operatingSystemVersion
operatingSystemVersion: 10.0 (20348)
-
replace: lastLogonTimestamp
lastLogonTimestamp: $recent

LDIF
  done
} >"$dir/servers.ldif"
ldbmodify -H "$sam" "$dir/servers.ldif" >/dev/null
# samba-tool creates computer accounts disabled until they join; the servers above are enabled,
# these two stay disabled.
tool user disable 'SRV-OLD01$'
tool user disable 'WS-GONE01$'

# Workstations in one batch: samba-tool takes about a second per computer, ldbadd all of them in seconds.
{
  for i in $(seq 1 "$computers"); do
    name=$(printf 'WS-%04d' "$i")
    lower=$(echo "$name" | tr 'A-Z' 'a-z')
    uac=4096 # WORKSTATION_TRUST_ACCOUNT
    ((i % 50 == 0)) && uac=4098 # … and ACCOUNTDISABLE
    logon=$recent
    ((i <= 3)) && logon=$stale
    cat <<LDIF
dn: CN=$name,OU=Workstations,$base
objectClass: computer
sAMAccountName: $name\$
userAccountControl: $uac
dNSHostName: $lower.drydock.test
operatingSystem: Windows 11 Enterprise
operatingSystemVersion: 10.0 (22631)
lastLogonTimestamp: $logon

LDIF
  done
} >"$dir/workstations.ldif"
ldbadd -H "$sam" "$dir/workstations.ldif" >/dev/null

echo "provisioned $realm in $dir: dc1 at $ip, $computers workstations"
