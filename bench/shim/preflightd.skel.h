/* bench/shim/preflightd.skel.h -- lets kcost use the daemon's user/maps.c on the socket-mocked test skeleton. */
/*
 * build/bench/maps_test.o is user/maps.c compiled with bench/shim first on
 * the include path: user/skel.h's #include "preflightd.skel.h" lands here,
 * so its struct preflightd_bpf is the test skeleton
 * (build/tests/bpf/preflightd_test.skel.h, same datapath source plus the
 * pf_test_sock map). kcost then sizes the maps, installs policies and sets
 * the Date header with the daemon's own pf_maps_size/install/tick, which
 * stay in step with the datapath without a copy to maintain.
 */
#ifndef PF_BENCH_SHIM_SKEL_H
#define PF_BENCH_SHIM_SKEL_H

#include "preflightd_test.skel.h"

#define preflightd_bpf preflightd_test

#endif /* PF_BENCH_SHIM_SKEL_H */
