// What every program of the object shares: the kernel's and libbpf's
// headers, the one way a map is defined, and the lookup of a map that
// holds one element (settings, a generation, per-CPU counters).

#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// A map named `name` of `entries` values of `value_type` by keys of
// `key_type`, created with `flags` (BPF_F_*). The loader may change
// `entries` (aya's `map_max_entries`); a map whose comment says so is
// always sized by it.
#define MAP_WITH_FLAGS(name, kind, key_type, value_type, entries, flags)                          \
	struct {                                                                                  \
		__uint(type, kind);                                                               \
		__uint(max_entries, entries);                                                     \
		__uint(map_flags, flags);                                                         \
		__type(key, key_type);                                                            \
		__type(value, value_type);                                                        \
	} name SEC(".maps")

#define MAP(name, kind, key_type, value_type, entries)                                            \
	MAP_WITH_FLAGS(name, kind, key_type, value_type, entries, 0)

// A map of one element of `value_type` (an array, or a per-CPU array with
// a value for each CPU), read with `only_element`.
#define SINGLE(name, kind, value_type) MAP(name, kind, __u32, value_type, 1)

// The element of a map `SINGLE` defined; 0 if the kernel gave none.
static __always_inline void *only_element(void *map)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(map, &zero);
}
