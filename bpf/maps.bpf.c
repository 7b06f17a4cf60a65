// SPDX-License-Identifier: GPL-2.0
/* maps.bpf.c - the one definition of the maps and settings shared by the
 * gtrace BPF units (see maps.bpf.h). */
#define GT_DEFINE_MAPS
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";
