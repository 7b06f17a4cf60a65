# man/: the manual.  greenrt(3) is the overview; each group of functions
# has a page of its own (gr_chan(3), gr_io(3)...), and gtrace(8) the tool.
#
# A page is an mdoc(7) file in man/ named after its section (X.3, X.8).
# Every name in a section-3 page's NAME section other than the page's own
# gets a link page, $(BUILD)/man/man3/NAME.3 holding `.so man3/X.3`, so
# that `man gr_chan_send` finds gr_chan(3).  Adding a group is adding its
# page: the list, the links, the install and the checks follow.
#
# tests/integration/library/test_man.sh (make test) lints every page with
# `mandoc -T lint -W warning` and checks that each function greenrt.h
# declares has a page and each documented name is declared.

MAN_PAGES := $(sort $(wildcard man/*.3 man/*.8))
MAN3_PAGES := $(filter %.3,$(MAN_PAGES))
MAN8_PAGES := $(filter %.8,$(MAN_PAGES))
# "page name" for every .Nm of a NAME section that is not the page itself.
MAN3_LINK_PAIRS := $(shell awk '/^\.Sh / { in_name = ($$2 == "NAME") } \
	in_name && $$1 == ".Nm" { n = FILENAME; sub(/.*\//, "", n); sub(/\.3$$/, "", n); \
	if ($$2 != n) print n ":" $$2 }' $(MAN3_PAGES))
MAN3_LINKS := $(foreach p,$(MAN3_LINK_PAIRS),$(word 2,$(subst :, ,$(p))))
MAN_LINK_DIR := $(BUILD)/man/man3

ALL += $(BUILD)/man/links.stamp

$(BUILD)/man/links.stamp: $(MAN3_PAGES) mk/man.mk
	$(call msg,GEN,$(MAN_LINK_DIR))
	$(Q)rm -rf $(MAN_LINK_DIR) && mkdir -p $(MAN_LINK_DIR)
	$(Q)for p in $(MAN3_LINK_PAIRS); do \
	    echo ".so man3/$${p%%:*}.3" > $(MAN_LINK_DIR)/$${p#*:}.3 || exit 1; \
	done; touch $@

.PHONY: install-man uninstall-man
install-man: $(BUILD)/man/links.stamp
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(MAN3_PAGES) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(MAN8_PAGES) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(MAN3_LINKS:%=$(MAN_LINK_DIR)/%.3) $(DESTDIR)$(MANDIR)/man3/

uninstall-man:
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man3/%,$(MAN3_PAGES)) \
	    $(patsubst man/%,$(DESTDIR)$(MANDIR)/man8/%,$(MAN8_PAGES)) \
	    $(MAN3_LINKS:%=$(DESTDIR)$(MANDIR)/man3/%.3)

TESTS_INTEGRATION += tests/integration/library/test_man.sh
