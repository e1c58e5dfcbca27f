/* User: the generated skeleton, with the shared types it refers to declared first. */
#ifndef PF_SKEL_H
#define PF_SKEL_H

#include "../include/pf_structs.h"
#include "preflightd.skel.h"

#endif /* PF_SKEL_H */
