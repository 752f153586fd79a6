# The libFuzzer targets (clang), apart from the normal gcc build: every core
# source is compiled again with clang and the sanitizers into one static
# library the targets link; a target that includes a core source itself (to
# reach its static functions) takes that object's place, since the linker
# only pulls archive members for symbols still undefined.
# Called by `make fuzz` with SRCDIR, OUT, DEP_CFLAGS, DEP_LIBS and TARGETS;
# `make fuzz-coverage` passes SAN= and COV=<clang source-based coverage> for
# the build that replays the corpora (tests/fuzz/coverage.sh).
CLANG ?= clang
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
COV =
# The warnings of the normal build (configure.ac), -Wmissing-prototypes and
# -Wmissing-declarations among them: a target's helpers are static, and what
# it defines for libFuzzer is declared in fuzz.h.
FUZZ_CFLAGS = -g -O1 $(SAN) $(COV) -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wmissing-prototypes -Wmissing-declarations \
	-DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
	$(addprefix -I$(SRCDIR)/mod_acme/core/,base crypto store protocol issue cluster) $(DEP_CFLAGS)
CORE_SRCS = $(wildcard $(SRCDIR)/mod_acme/core/*/*.c)
CORE_OBJS = $(patsubst $(SRCDIR)/%.c,$(OUT)/obj/%.o,$(CORE_SRCS))

all: $(addprefix $(OUT)/fuzz_,$(TARGETS))

$(OUT)/obj/%.o: $(SRCDIR)/%.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(OUT)/libacme_fuzz.a: $(CORE_OBJS)
	rm -f $@
	ar rcs $@ $(CORE_OBJS)

$(OUT)/fuzz_%: $(SRCDIR)/tests/fuzz/fuzz_%.c $(SRCDIR)/tests/fuzz/fuzz.h \
		$(SRCDIR)/tests/fuzz/fuzz_http.h $(OUT)/libacme_fuzz.a
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP $< $(OUT)/libacme_fuzz.a $(DEP_LIBS) -lresolv -o $@

.PHONY: all
# header dependencies, from the last build
-include $(CORE_OBJS:.o=.d) $(addprefix $(OUT)/fuzz_,$(addsuffix .d,$(TARGETS)))
