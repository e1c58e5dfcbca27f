/* Tests only (unit, BPF, fuzz tiers and bench/floor.h): the Vary line every answer of preflightd carries. */
/*
 * expect_vary.h -- what the tests expect of every response preflightd
 * writes, allowed or rejected, whatever the rule: Vary names the four
 * request headers the answer depends on (docs/cors.md, "The response").
 * Written out here, not taken from user/policy_rule.c, so a change there
 * shows as a failing test.
 */
#ifndef PF_TEST_EXPECT_VARY_H
#define PF_TEST_EXPECT_VARY_H

/* The value, without "Vary: " and without CRLF. */
#define PF_EXPECT_VARY_V "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, " \
			 "Access-Control-Request-Private-Network"

/* The whole line, CRLF included. */
#define PF_EXPECT_VARY "Vary: " PF_EXPECT_VARY_V "\r\n"

#endif /* PF_TEST_EXPECT_VARY_H */
