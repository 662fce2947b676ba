#!/usr/bin/env bash
# Installs what `make test` needs when it is absent and says, in one line
# per tool, what the tests will use:
#
#   rsyslogd        apt (rsyslog and its TLS drivers); waits for the dpkg lock
#   CA bundle       apt (ca-certificates): the system roots the HTTPS tests extend
#   aws-lambda-rie  go install, pinned (RIE_VERSION)
#   moto_server     on PATH, else the project's virtual environment (.venv)
#   cfn-lint        on PATH, else the project's virtual environment (.venv)
#
# Python tools are never installed into the system's Python (Debian refuses
# that anyway): a virtual environment in the project directory holds them,
# and the Makefile puts its bin/ at the end of PATH. When the package index
# cannot be reached, this fails within seconds with one line saying so.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${WAZUH_PULL_VENV:-$root/.venv}
rie_version=${RIE_VERSION:?RIE_VERSION must be set (the Makefile sets it)}
gobin=$(go env GOPATH)/bin
export PATH="$gobin:$PATH:$venv/bin"
log=$(mktemp "${TMPDIR:-/tmp}/wazuh-pull-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0

say() { printf 'deps: %-15s %s\n' "$1" "$2"; }
fail() { say "$1" "FAILED: $2"; status=1; }
# last prints the last non-empty line of the log, for one-line failures.
last() { grep -v '^[[:space:]]*$' "$log" | tail -n 1; }

# apt_get runs apt-get, waiting up to 10 minutes for another apt or dpkg
# (unattended-upgrades, another engineer) to release its lock.
apt_get() {
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	local waited=0
	while :; do
		if DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 "$@" >"$log" 2>&1; then
			return 0
		fi
		if grep -qiE 'could not get lock|unable to acquire|is another process using it' "$log" && [ "$waited" -lt 600 ]; then
			[ "$waited" = 0 ] && echo "deps: waiting for the apt/dpkg lock held by another process" >&2
			sleep 5
			waited=$((waited + 5))
			continue
		fi
		return 1
	done
}

# --- rsyslogd, with the gtls and ossl network stream drivers the relay uses
rsyslog_ok() {
	command -v rsyslogd >/dev/null &&
		ls /usr/lib/*/rsyslog/lmnsd_gtls.so /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1
}
how="already installed"
if ! rsyslog_ok; then
	how="installed now (apt)"
	if ! command -v apt-get >/dev/null; then
		fail rsyslogd "not installed and no apt-get here: install rsyslog with its gnutls and openssl drivers"
	elif ! apt_get update -qq || ! apt_get install -y -qq --no-install-recommends rsyslog rsyslog-gnutls rsyslog-openssl; then
		fail rsyslogd "apt-get could not install rsyslog rsyslog-gnutls rsyslog-openssl: $(last)"
	fi
fi
if rsyslog_ok; then
	say rsyslogd "$(command -v rsyslogd) (rsyslog $(rsyslogd -v 2>/dev/null | awk 'NR == 1 {print $2}'), $how)"
fi

# --- the system's CA bundle (Debian's path), which the HTTPS tests extend
# with a simulator's CA to stand for an operator's trust store
bundle=/etc/ssl/certs/ca-certificates.crt
how="already installed"
if [ ! -s "$bundle" ]; then
	how="installed now (apt)"
	if ! command -v apt-get >/dev/null; then
		fail "CA bundle" "$bundle missing and no apt-get here: install the ca-certificates package"
	elif ! apt_get update -qq || ! apt_get install -y -qq --no-install-recommends ca-certificates; then
		fail "CA bundle" "apt-get could not install ca-certificates: $(last)"
	fi
fi
if [ -s "$bundle" ]; then
	say "CA bundle" "$bundle ($(grep -c 'BEGIN CERTIFICATE' "$bundle") certificates, $how)"
fi

# --- the Lambda Runtime Interface Emulator, pinned
how="already installed"
if ! command -v aws-lambda-rie >/dev/null; then
	how="installed now (go install)"
	go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version" >"$log" 2>&1 ||
		fail aws-lambda-rie "go install …/aws-lambda-rie@$rie_version failed: $(last)"
fi
if command -v aws-lambda-rie >/dev/null; then
	say aws-lambda-rie "$(command -v aws-lambda-rie) ($rie_version pinned, $how)"
fi

# --- moto_server and cfn-lint: on PATH, else in the project's venv
where() {
	case "$1" in
	"$venv"/*) echo "project virtual environment ${venv#"$root"/}" ;;
	*) echo "on PATH" ;;
	esac
}
missing=()
command -v moto_server >/dev/null || missing+=("moto[server]")
command -v cfn-lint >/dev/null || missing+=("cfn-lint")
if [ ${#missing[@]} -gt 0 ]; then
	tools="moto_server/cfn-lint"
	if ! command -v python3 >/dev/null; then
		fail "$tools" "${missing[*]} not on PATH and no python3 to build ${venv#"$root"/} with: install python3, or put moto_server and cfn-lint on PATH"
	# Ask the index once, quickly, before building anything: an unreachable
	# index must fail now, in one line, not after pip's retries.
	elif ! index=$(python3 - 2>&1 <<'PY'
import os, sys, urllib.request
url = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/"
try:
    urllib.request.urlopen(url.rstrip("/") + "/pip/", timeout=10).close()
except Exception as e:
    sys.exit("%s: %s" % (url, e))
PY
	); then
		fail "$tools" "${missing[*]} not on PATH and the Python package index is unreachable (${index##*$'\n'}); install them (pip install 'moto[server]' cfn-lint) in a virtual environment on PATH, or set PIP_INDEX_URL"
	else
		if [ ! -x "$venv/bin/python" ]; then
			if ! python3 -m venv "$venv" >"$log" 2>&1; then
				rm -rf "$venv"
				# Debian and Ubuntu ship venv separately.
				if grep -q ensurepip "$log" && command -v apt-get >/dev/null &&
					apt_get install -y -qq --no-install-recommends python3-venv; then
					python3 -m venv "$venv" >"$log" 2>&1 || rm -rf "$venv"
				fi
			fi
		fi
		if [ ! -x "$venv/bin/python" ]; then
			fail "$tools" "${missing[*]} not on PATH and python3 -m venv ${venv#"$root"/} failed: $(last)"
		elif ! "$venv/bin/python" -m pip install --disable-pip-version-check --timeout 30 "${missing[@]}" >"$log" 2>&1; then
			fail "$tools" "pip install ${missing[*]} into ${venv#"$root"/} failed: $(last)"
		fi
	fi
fi
for tool in moto_server cfn-lint; do
	if path=$(command -v "$tool"); then
		say "$tool" "$path ($(where "$path"))"
	fi
done
exit $status
