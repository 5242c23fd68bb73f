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

# Debian packages: the NativeAOT link (clang, zlib), the real peers the tests drive (networkd-dispatcher for
# the differential test; polkitd and ethtool for the package's tests under systemd), man (the man pages'
# check) and curl (an example's web hook).
APT_PACKAGES := clang lld zlib1g-dev iproute2 dbus iputils-ping isc-dhcp-client dnsmasq tcpdump procps util-linux iptables systemd dbus-daemon libglib2.0-bin lintian man-db curl networkd-dispatcher polkitd ethtool

STATE_DIRS := carrier configured degraded no-carrier routable manager routes

.PHONY: all build deps test unit-test demo install deb clean bench

all: build

# Installs the missing Debian packages on one line of progress, apt's output in out/apt.log (root only;
# the callers below make sure of that).
deps:
	@./scripts/install-packages.sh $(CURDIR)/out/apt.log $(APT_PACKAGES)

build: bin/network-broker

# The sources only: obj/ holds files the test build regenerates, which must not make the binary stale while
# tests run it (cp onto a running binary fails with "Text file busy").
bin/network-broker: $(shell find src \( -name obj -o -name bin \) -prune -o \( -name '*.cs' -o -name '*.csproj' \) -print 2>/dev/null) Directory.Build.props global.json
	@command -v clang >/dev/null || $(MAKE) --no-print-directory deps
	$(DOTNET) publish src/NetworkBroker/NetworkBroker.csproj -c $(CONFIG) -r $(RID) -o out/publish --nologo -v quiet
	@mkdir -p bin && cp out/publish/network-broker bin/network-broker
	@ls -l bin/network-broker

# Every test project (TEST_FILTER= narrows them: dotnet test's --filter), results in TestResults/*.trx, then
# the line "N passed, N failed" over all of them (scripts/test-totals.sh), whose exit status is the verdict.
RUN_TESTS = rm -rf TestResults; \
	$(DOTNET) test NetworkBroker.sln -c $(CONFIG) --nologo --logger "trx" --logger "console;verbosity=normal" \
	  --results-directory TestResults $(if $(TEST_FILTER),--filter '$(TEST_FILTER)'); \
	./scripts/test-totals.sh TestResults $$?

# Ends with the totals line and fails when a test did; when a step before the tests fails (packages,
# build), the line still ends it, each test project counted as one failure. The tests run in this make, not a sub-make, so a
# failure adds one line of make's own after the totals, not two.
test:
	@if [ "$$(id -u)" != 0 ]; then exec sudo -E env "PATH=$$PATH" $(MAKE) --no-print-directory test; fi; \
	if $(MAKE) --no-print-directory deps && { $(MAKE) --no-print-directory -q build || $(MAKE) --no-print-directory build; }; then \
	  export NETWORK_BROKER_BIN=$(CURDIR)/bin/network-broker; $(RUN_TESTS); \
	else rm -rf TestResults; ./scripts/test-totals.sh TestResults 1; fi

# The tests alone, against the JIT build (NETWORK_BROKER_BIN, when set, points them at a native binary).
unit-test:
	@$(RUN_TESTS)

demo:
	@if [ "$$(id -u)" != 0 ]; then exec sudo -E env "PATH=$$PATH" $(MAKE) --no-print-directory demo; fi; \
	$(MAKE) --no-print-directory deps && { $(MAKE) --no-print-directory -q build || $(MAKE) --no-print-directory build; } && ./demo/run-demo.sh

install: bin/network-broker
	install -D -m 0755 bin/network-broker $(DESTDIR)$(PREFIX)/bin/network-broker
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/network-broker
	@for d in $(STATE_DIRS); do install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/network-broker/$$d.d; done
	install -D -m 0644 packaging/rt_protos.d/network-broker.conf $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/network-broker.conf
	install -D -m 0644 packaging/systemd/network-broker.service $(DESTDIR)$(UNITDIR)/network-broker.service
	install -D -m 0644 packaging/sysusers.d/network-broker.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/network-broker.conf
	install -D -m 0644 packaging/polkit/50-network-broker.rules $(DESTDIR)$(PREFIX)/share/polkit-1/rules.d/50-network-broker.rules
	install -D -m 0644 packaging/systemd/full-host.conf $(DESTDIR)$(PREFIX)/lib/network-broker/full-host.conf
	install -D -m 0755 packaging/full-host $(DESTDIR)$(PREFIX)/lib/network-broker/full-host
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/network-broker/README.md
	install -D -m 0644 packaging/man/network-broker.8 $(DESTDIR)$(PREFIX)/share/man/man8/network-broker.8
	install -D -m 0644 packaging/man/network-broker.toml.5 $(DESTDIR)$(PREFIX)/share/man/man5/network-broker.toml.5
	install -D -m 0644 packaging/bash-completion/network-broker $(DESTDIR)$(PREFIX)/share/bash-completion/completions/network-broker
	@find examples -type f | LC_ALL=C sort | while read -r f; do \
	  echo "install -D -m 0755 $$f $(DESTDIR)$(PREFIX)/share/doc/network-broker/$$f"; \
	  install -D -m 0755 "$$f" "$(DESTDIR)$(PREFIX)/share/doc/network-broker/$$f" || exit 1; \
	done
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
