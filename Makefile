# network-broker: build, test, demo, install.
# `make demo` and `make test` work on a fresh Debian 12 machine with only the .NET SDK: they install
# what they need (apt packages, NuGet restore) and re-run themselves under sudo when not root.

SHELL      := /bin/bash
PREFIX     ?= /usr
SYSCONFDIR ?= /etc
DESTDIR    ?=
UNITDIR    ?= $(PREFIX)/lib/systemd/system
VERSION    := $(shell sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
DEB_REVISION ?= 1
RID        ?= linux-x64
CONFIG     ?= Release
DOTNET     ?= dotnet
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

# Debian packages: the NativeAOT link (clang, zlib) and the real peers the tests drive.
APT_PACKAGES := clang lld zlib1g-dev iproute2 dbus iputils-ping isc-dhcp-client dnsmasq tcpdump procps util-linux iptables systemd dbus-daemon libglib2.0-bin lintian

STATE_DIRS := carrier configured degraded no-carrier routable manager routes

.PHONY: all build deps test unit-test demo install deb clean bench

all: build

# Installs the missing Debian packages (root only; the callers below make sure of that).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install $$missing (run: sudo make deps)" >&2; exit 1; fi; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: bin/network-broker

bin/network-broker: $(shell find src -name '*.cs' -o -name '*.csproj' 2>/dev/null) Directory.Build.props global.json
	@command -v clang >/dev/null || $(MAKE) --no-print-directory deps
	$(DOTNET) publish src/NetworkBroker/NetworkBroker.csproj -c $(CONFIG) -r $(RID) -o out/publish --nologo -v quiet
	@mkdir -p bin && cp out/publish/network-broker bin/network-broker
	@ls -l bin/network-broker

test:
	@if [ "$$(id -u)" != 0 ]; then exec sudo -E env "PATH=$$PATH" $(MAKE) --no-print-directory test; fi; \
	$(MAKE) --no-print-directory deps && $(MAKE) --no-print-directory build && \
	NETWORK_BROKER_BIN=$(CURDIR)/bin/network-broker $(MAKE) --no-print-directory unit-test

# Runs every test project; results land in TestResults/*.trx (read by .ci/run for the totals).
unit-test:
	@rm -rf TestResults
	$(DOTNET) test NetworkBroker.sln -c $(CONFIG) --nologo --logger "trx" --logger "console;verbosity=normal" --results-directory TestResults

demo:
	@if [ "$$(id -u)" != 0 ]; then exec sudo -E env "PATH=$$PATH" $(MAKE) --no-print-directory demo; fi; \
	$(MAKE) --no-print-directory deps && $(MAKE) --no-print-directory build && ./demo/run-demo.sh

install: bin/network-broker
	install -D -m 0755 bin/network-broker $(DESTDIR)$(PREFIX)/bin/network-broker
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/network-broker
	@for d in $(STATE_DIRS); do install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/network-broker/$$d.d; done
	install -D -m 0644 packaging/rt_protos.d/network-broker.conf $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/network-broker.conf
	install -D -m 0644 packaging/systemd/network-broker.service $(DESTDIR)$(UNITDIR)/network-broker.service
	install -D -m 0644 packaging/sysusers.d/network-broker.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/network-broker.conf
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/network-broker/README.md
	install -D -m 0644 packaging/man/network-broker.8 $(DESTDIR)$(PREFIX)/share/man/man8/network-broker.8
	install -D -m 0644 packaging/man/network-broker.toml.5 $(DESTDIR)$(PREFIX)/share/man/man5/network-broker.toml.5
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/network-broker/network-broker.toml ]; then \
	  install -m 0644 packaging/network-broker.toml $(DESTDIR)$(SYSCONFDIR)/network-broker/network-broker.toml; \
	else echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/network-broker/network-broker.toml"; fi

# out/network-broker_<version>-<revision>_<arch>.deb, checked with lintian when it is installed.
deb: bin/network-broker
	@command -v dpkg-deb >/dev/null || { echo "make deb needs dpkg-deb (Debian's dpkg)" >&2; exit 1; }
	./packaging/debian/build-deb.sh $(VERSION)-$(DEB_REVISION) $(CURDIR)/out

bench:
	@if [ "$$(id -u)" != 0 ]; then exec sudo -E env "PATH=$$PATH" $(MAKE) --no-print-directory bench; fi; \
	$(MAKE) --no-print-directory deps && \
	for p in networkd-dispatcher libsystemd-dev pkg-config gcc; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$p || exit 1; \
	done && \
	./bench/run-bench.sh

clean:
	rm -rf bin out TestResults src/*/bin src/*/obj tests/*/bin tests/*/obj bench/*/bin bench/*/obj bench/floor/floor
