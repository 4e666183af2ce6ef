#!/bin/sh
# contrib/deps.sh: install what building and testing flockmq needs, from
# Debian 12 packages.  Idempotent and quiet: does nothing when everything is
# installed already.  Run as root (or with sudo available).
#
#	sh contrib/deps.sh		build and test dependencies
#	sh contrib/deps.sh --extra	also clang (--enable-fuzzing) and valgrind
#					(FLOCKMQ_TEST_VALGRIND=1)
set -eu

packages="
	build-essential autoconf automake libtool pkg-config
	libev-dev libleveldb-dev libmbedtls-dev libmicrohttpd-dev libyaml-dev
	libjansson-dev
	perl python3 python3-paho-mqtt python3-yaml
	mosquitto mosquitto-clients curl openssl jq
	prometheus chromium
"
case ${1:-} in
--extra) packages="$packages clang valgrind" ;;
"") ;;
*) echo "usage: sh contrib/deps.sh [--extra]" >&2; exit 1 ;;
esac

missing=
for p in $packages; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
# apt_install PACKAGE...: install Debian packages, as root or with sudo.
sudo=
apt_install () {
	if test "$(id -u)" != 0; then
		command -v sudo >/dev/null 2>&1 || {
			echo "deps.sh: not root and no sudo; install: $*" >&2
			exit 1
		}
		sudo=sudo
	fi
	echo "deps.sh: installing $*"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get -qq update
	$sudo apt-get -qq -y --no-install-recommends install "$@" >/dev/null
}

# shellcheck disable=SC2086 # $missing is a list of package names
test -z "$missing" || apt_install $missing

# Debian starts the mosquitto service on install, and it would hold port
# 1883, flockmq's default.  The tests and benchmarks start their own
# mosquitto on other ports, so a service that this script brought in is
# stopped and disabled; one that was installed before is left alone.
case " $missing " in
*" mosquitto "*)
	if test -d /run/systemd/system &&
	    $sudo systemctl is-active --quiet mosquitto 2>/dev/null; then
		$sudo systemctl disable --now mosquitto >/dev/null 2>&1 || :
		echo "deps.sh: stopped and disabled the mosquitto service" \
		    "(port 1883 is flockmq's default)"
	fi
	;;
esac
case " $missing " in
*" prometheus "*)
	# Its service (port 9090) is not ours either; tests run their own.
	if test -d /run/systemd/system; then
		$sudo systemctl disable --now prometheus \
		    prometheus-node-exporter >/dev/null 2>&1 || :
	fi
	;;
esac

# Node.js packages for the tests: t/node/package-lock.json pins
# playwright-core, with which t/t5030-dashboard.t drives Chromium, and mqtt
# (MQTT.js), which t/t4020-ws.t runs over WebSocket.  npm comes
# with NodeSource's nodejs; without it, Debian's nodejs and npm are
# installed.  npm ci runs only when t/node/node_modules is missing or older
# than the lock file.
node_dir=$(cd "$(dirname "$0")/.." && pwd)/t/node
if test -f "$node_dir/package-lock.json"; then
	command -v npm >/dev/null 2>&1 || apt_install nodejs npm
	if ! test -d "$node_dir/node_modules" ||
	    test "$node_dir/package-lock.json" -nt "$node_dir/node_modules"; then
		echo "deps.sh: npm ci --prefix t/node"
		npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error >/dev/null
		touch "$node_dir/node_modules"
	fi
fi
