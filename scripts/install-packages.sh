#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet, on one line of
# progress; apt's own output goes to LOG, which is named (with its last lines) when something fails.
#   install-packages.sh LOG PACKAGE...
# Used by `make deps`, so by `make demo`, `make test` and `make build` on a fresh machine.
set -uo pipefail
log=$1
shift

missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "need root to install ${missing[*]} (run: sudo make deps)" >&2
    exit 1
fi

mkdir -p "$(dirname "$log")"
: > "$log"
started=$SECONDS
what="${#missing[@]} Debian packages"
[ ${#missing[@]} -eq 1 ] && what="1 Debian package"
# On a terminal the line is rewritten in place with apt's progress (cut to the terminal's width, so that
# it never wraps); anywhere else it is written once, with no escape codes, and finished at the end.
if [ -t 1 ]; then
    columns=$(stty size 2>/dev/null </dev/tty | cut -d' ' -f2)
    [ "${columns:-0}" -ge 20 ] 2>/dev/null || columns=80
    progress() { printf '\r\033[K%s' "$(cut -c "1-$((columns - 1))" <<<"Installing $what: $1")"; }
    finish() { printf '\r\033[K%s\n' "$1"; }
else
    printf 'Installing %s (%s) ...' "$what" "${missing[*]}"
    progress() { :; }
    finish() { printf ' %s\n' "${1#"Installing $what "}"; }
fi

progress "reading the package lists"
# Lists that cannot be refreshed (no network) may still hold the packages: the install says if not.
apt-get update >> "$log" 2>&1
# apt's machine-readable progress (APT::Status-Fd) goes to the pipe, everything else to the log.
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o APT::Status-Fd=3 "${missing[@]}" \
    3>&1 >> "$log" 2>&1 |
    while IFS=: read -r kind _ percent text; do
        case $kind in
            dlstatus | pmstatus) progress "${percent%%.*}% ${text}" ;;
        esac
    done
status=${PIPESTATUS[0]}

if [ "$status" -ne 0 ]; then
    finish "Installing $what failed (apt-get exit status $status); its last lines:"
    tail -n 15 "$log" | sed 's/^/  /'
    echo "apt's whole output: $log"
    exit 1
fi
finish "Installing $what done in $((SECONDS - started)) s (apt's output: $log)"
