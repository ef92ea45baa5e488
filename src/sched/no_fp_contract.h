// Included by every solver source: the schedules and updates must round like the reference's
// separate multiply and add (numpy / torch), so the compiler may not fuse them into FMAs
// (-march=x86-64-v3 would). Include it after the other headers: it affects what follows.
#pragma once

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
