/* Small helpers both halves share: cross-process futex on a word of the shared file, clocks. */
#ifndef AMESH_XDS_SYNC_H
#define AMESH_XDS_SYNC_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Not FUTEX_PRIVATE: the word lives in a MAP_SHARED file mapping used by two processes. */
static inline void xds_futex_wait(uint32_t *word, uint32_t seen, uint32_t timeout_ms) {
  struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
  syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static inline void xds_futex_wake_all(uint32_t *word) { syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

static inline uint64_t xds_now_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define XDS_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define XDS_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#endif
