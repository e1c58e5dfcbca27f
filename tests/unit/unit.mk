# Unit tier: shared include/ code and user/ policy code under gcc + ASan/UBSan, cmocka.
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
ASAN_OBJS  := $(LIB_SRCS:user/%.c=$(BUILD)/asan/%.o)

$(BUILD)/asan $(BUILD)/tests/unit:
	$(Q)mkdir -p $@

$(BUILD)/asan/%.o: user/%.c $(SKELS) | $(BUILD)/asan
	@echo "  CC-SAN  $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(ASAN_OBJS) $(wildcard include/*.h) | $(BUILD)/tests/unit
	@echo "  UNIT    $@"
	$(Q)$(CC) $(CFLAGS) $(SAN) -Iuser -o $@ $< $(ASAN_OBJS) $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

-include $(wildcard $(BUILD)/asan/*.d $(BUILD)/tests/unit/*.d)
