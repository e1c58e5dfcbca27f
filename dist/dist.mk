# Installing and packaging (included by the top-level Makefile).
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, man pages, systemd
#                                                 unit, example policy, bash completion
#   make deb                                      build/deb/preflightd_<version>_<arch>.deb
#   make pkgtest                                  the pkg tier: man pages, install, deb, chart
#   make image-test                               build the container image (podman) and run
#                                                 it on the e2e topology (deps.sh image)
#   make check-readme                             README.md is a true map: its layout table names
#                                                 every file of bpf/, include/, user/ (the pkg tier)
# The unit's paths follow SBINDIR and SYSCONFDIR. The example policy goes to
# $(SYSCONFDIR)/preflightd/ (a conffile in the package).
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR  ?= /etc
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# the systemd template: dist/preflightd@.service.in (@BINDIR@, @SYSCONFDIR@)
# once it exists, else the unit with its built-in /usr/local/bin and /etc
UNIT_SRC := $(firstword $(wildcard dist/preflightd@.service.in) dist/preflightd@.service)
UNIT_SED := -e 's|@BINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
ifeq ($(UNIT_SRC),dist/preflightd@.service)
UNIT_SED += -e 's|/usr/local/bin/preflightd|$(SBINDIR)/preflightd|g' \
	-e 's|/etc/preflightd/|$(SYSCONFDIR)/preflightd/|g'
endif

.PHONY: install deb pkgtest image-test check-readme
install: $(BUILD)/preflightd
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/preflightd $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/preflightd $(DESTDIR)$(SBINDIR)/preflightd
	install -m 0644 docs/preflightd.8 $(DESTDIR)$(MANDIR)/man8/preflightd.8
	install -m 0644 docs/preflightd-policy.5 $(DESTDIR)$(MANDIR)/man5/preflightd-policy.5
	sed $(UNIT_SED) $(UNIT_SRC) >$(DESTDIR)$(UNITDIR)/preflightd@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/preflightd@.service
	install -m 0644 examples/policy.yaml $(DESTDIR)$(SYSCONFDIR)/preflightd/example.yaml
	install -m 0644 dist/bash-completion/preflightd $(DESTDIR)$(BASHCOMPDIR)/preflightd

deb:
	$(Q)bash scripts/deb.sh

pkgtest: $(BUILD)/preflightd
	$(Q)bash tests/pkg/run.sh

check-readme:
	$(Q)bash scripts/check-readme.sh

image-test: all e2e-tools
	$(Q)rc=0; for m in tc xdp; do bash tests/e2e/image.sh --mode $$m || rc=1; done; exit $$rc
