# make install / make uninstall, and the tests of what a user of the
# installed library gets (tests/integration/library/).
#
#   make install [DESTDIR=/tmp/stage] [PREFIX=/usr/local] [BINDIR=...]
#                [LIBDIR=...] [INCLUDEDIR=...] [MANDIR=...] [PKGCONFIGDIR=...]
#
# installs, under $(DESTDIR):
#   $(LIBDIR)/libgreenrt.a
#   $(LIBDIR)/libgreenrt.so.X.Y.Z          the real name (VERSION)
#   $(LIBDIR)/libgreenrt.so.X -> .X.Y.Z    the soname, what programs load
#   $(LIBDIR)/libgreenrt.so -> .so.X       what -lgreenrt finds
#   $(INCLUDEDIR)/greenrt.h
#   $(PKGCONFIGDIR)/greenrt.pc             written now, for these directories
#   $(BINDIR)/gtrace                       built if it was not
#   $(MANDIR)/man3/*.3, man8/gtrace.8      pages and link pages (mk/man.mk)
# `make install-lib` leaves gtrace and the man pages out (gtrace needs
# clang, bpftool and a kernel with BTF to build).  `make uninstall`, given
# the same variables, removes exactly those files (not the directories,
# which other packages may share).

.PHONY: install install-lib install-gtrace uninstall uninstall-lib uninstall-gtrace
install: install-lib install-gtrace install-man
uninstall: uninstall-lib uninstall-gtrace uninstall-man

# A directory in greenrt.pc: relative to ${prefix} when it lies under
# PREFIX, so that pkg-config --define-prefix can relocate the tree.
pc_dir = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}$(patsubst $(PREFIX)%,%,$(1)),$(1))

install-lib: $(LIBGREENRT_A) $(LIBGREENRT_SO) mk/greenrt.pc.in
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(LIBGREENRT_A) $(DESTDIR)$(LIBDIR)/libgreenrt.a
	install -m 755 $(LIBGREENRT_SO_REAL) $(DESTDIR)$(LIBDIR)/libgreenrt.so.$(VERSION)
	ln -sfn libgreenrt.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBGREENRT_SONAME)
	ln -sfn $(LIBGREENRT_SONAME) $(DESTDIR)$(LIBDIR)/libgreenrt.so
	install -m 644 runtime/include/greenrt.h $(DESTDIR)$(INCLUDEDIR)/greenrt.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    mk/greenrt.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/greenrt.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/greenrt.pc

uninstall-lib:
	rm -f $(DESTDIR)$(LIBDIR)/libgreenrt.a $(DESTDIR)$(LIBDIR)/libgreenrt.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/$(LIBGREENRT_SONAME) $(DESTDIR)$(LIBDIR)/libgreenrt.so \
	    $(DESTDIR)$(INCLUDEDIR)/greenrt.h $(DESTDIR)$(PKGCONFIGDIR)/greenrt.pc

install-gtrace: $(BUILD)/gtrace
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/gtrace $(DESTDIR)$(BINDIR)/gtrace

uninstall-gtrace:
	rm -f $(DESTDIR)$(BINDIR)/gtrace

TESTS_INTEGRATION += tests/integration/library/test_install.sh
