/*
 * The agent's half, called through koffi from Node (which cannot mmap): creates or reopens the
 * shared-memory file, publishes a full state into the free slot under a seqlock or appends a delta
 * record to the latest one, and waits for the reader's acknowledgement on a futex.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "xds_layout.h"
#include "xds_sync.h"

struct amesh_xds_writer {
  int fd;
  struct xds_header *h;
  size_t map_len;
  uint64_t next_generation;
};

static void fail(char *error, size_t error_len, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error, error_len, format, args);
  va_end(args);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static int initialise(int fd, uint64_t capacity, char *error, size_t error_len) {
  if (ftruncate(fd, (off_t)xds_file_size(capacity)) != 0) {
    fail(error, error_len, "sizing to %" PRIu64 " bytes: %s", xds_file_size(capacity), strerror(errno));
    return -1;
  }
  struct xds_header h;
  memset(&h, 0, sizeof h);
  h.layout = XDS_LAYOUT;
  h.header_size = XDS_HEADER_SIZE;
  h.slot_capacity = capacity;
  if (getrandom(&h.file_id, sizeof h.file_id, 0) != (ssize_t)sizeof h.file_id) h.file_id = (uint64_t)getpid() << 32 ^ xds_now_ms(CLOCK_REALTIME);
  if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
    fail(error, error_len, "writing the header: %s", strerror(errno));
    return -1;
  }
  /* The magic last: a reader never maps a file whose header is incomplete. */
  uint64_t magic = XDS_MAGIC;
  if (pwrite(fd, &magic, sizeof magic, 0) != (ssize_t)sizeof magic) {
    fail(error, error_len, "writing the header: %s", strerror(errno));
    return -1;
  }
  return 0;
}

void *amesh_xds_writer_open(const char *path, uint64_t capacity, uint32_t mode, int64_t gid, char *error, size_t error_len) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode & 0777);
  if (fd < 0) {
    fail(error, error_len, "opening %s: %s", path, strerror(errno));
    return NULL;
  }
  /* One agent per file: an open-file-description lock, released when this writer closes. */
  struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  if (fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    fail(error, error_len, "%s is in use by another amesh agent", path);
    close(fd);
    return NULL;
  }
  /* Only the agent and nginx's group may read the configuration (it holds private keys). */
  if (fchmod(fd, mode & 0777) != 0 || (gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)gid) != 0)) {
    fail(error, error_len, "setting mode %o%s on %s: %s", mode & 0777, gid >= 0 ? " and group" : "", path, strerror(errno));
    close(fd);
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fail(error, error_len, "stat %s: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  struct xds_header probe;
  memset(&probe, 0, sizeof probe);
  if (st.st_size > 0 && pread(fd, &probe, sizeof probe, 0) != (ssize_t)sizeof probe) probe.magic = 0;
  if (st.st_size == 0 || probe.magic == 0) {
    if (initialise(fd, capacity, error, error_len) != 0) {
      close(fd);
      return NULL;
    }
  } else if (probe.magic != XDS_MAGIC || probe.layout != XDS_LAYOUT || (uint64_t)st.st_size != xds_file_size(probe.slot_capacity)) {
    fail(error, error_len, "%s is not an amesh shared-memory file of layout %u (refusing to overwrite it)", path, XDS_LAYOUT);
    close(fd);
    return NULL;
  }
  if (fstat(fd, &st) != 0) {
    fail(error, error_len, "stat %s: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    fail(error, error_len, "mapping %s: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  struct amesh_xds_writer *w = calloc(1, sizeof *w);
  if (!w) {
    munmap(map, (size_t)st.st_size);
    close(fd);
    fail(error, error_len, "out of memory");
    return NULL;
  }
  w->fd = fd;
  w->h = map;
  w->map_len = (size_t)st.st_size;
  /* Generations keep growing across agent restarts: the reader only ever moves forward. */
  uint64_t last = max_u64(XDS_LOAD(&w->h->published_generation), max_u64(w->h->slots[0].last_generation, w->h->slots[1].last_generation));
  last = max_u64(last, max_u64(XDS_LOAD(&w->h->status.applied_generation), XDS_LOAD(&w->h->status.failed_generation)));
  w->next_generation = last + 1;
  return w;
}

uint64_t amesh_xds_writer_capacity(struct amesh_xds_writer *w) { return w->h->slot_capacity; }

static int chain_holds(struct xds_slot *s, uint64_t generation) {
  uint64_t base = XDS_LOAD(&s->generation);
  return base != 0 && base <= generation && generation <= XDS_LOAD(&s->last_generation);
}

static void announce(struct xds_header *h, uint64_t generation) {
  XDS_STORE(&h->published_generation, generation);
  __atomic_fetch_add(&h->publish_seq, 1, __ATOMIC_SEQ_CST);
  xds_futex_wake_all(&h->publish_seq);
}

/* Publishes a full state; returns its generation, or 0 with a message in `error`. */
uint64_t amesh_xds_writer_publish(struct amesh_xds_writer *w, const uint8_t *data, uint64_t length, uint64_t count, char *error, size_t error_len) {
  struct xds_header *h = w->h;
  if (length > h->slot_capacity) {
    fail(error, error_len, "the state needs %" PRIu64 " bytes, the shared-memory slots hold %" PRIu64, length, h->slot_capacity);
    return 0;
  }
  /* Never the slot the dict was built from: a restarting worker rebuilds from it. */
  uint64_t applied = XDS_LOAD(&h->status.applied_generation);
  int slot;
  if (applied != 0 && chain_holds(&h->slots[0], applied)) slot = 1;
  else if (applied != 0 && chain_holds(&h->slots[1], applied)) slot = 0;
  else slot = XDS_LOAD(&h->slots[0].last_generation) <= XDS_LOAD(&h->slots[1].last_generation) ? 0 : 1;
  uint64_t generation = w->next_generation++;
  struct xds_slot *s = &h->slots[slot];
  __atomic_store_n(&s->generation, 0, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  memcpy(xds_slot_data(h, slot), data, length);
  s->length = length;
  s->count = count;
  s->log_end = 0;
  XDS_STORE(&s->last_generation, generation);
  XDS_STORE(&s->generation, generation);
  announce(h, generation);
  return generation;
}

#define XDS_LOG_SLACK (1u << 20)

/* The slot whose chain ends with the latest publication (where a delta record goes), or -1. */
static int head_slot(struct xds_header *h) {
  uint64_t published = XDS_LOAD(&h->published_generation);
  for (int i = 0; i < 2; i++)
    if (published != 0 && XDS_LOAD(&h->slots[i].generation) != 0 && XDS_LOAD(&h->slots[i].last_generation) == published) return i;
  return -1;
}

/*
 * Bytes of entries a delta record may carry now: 0 when a full state must be published instead (no
 * latest publication to extend, or the log would outgrow the snapshot by more than XDS_LOG_SLACK:
 * then a reload would replay more than a snapshot costs).
 */
uint64_t amesh_xds_writer_delta_room(struct amesh_xds_writer *w) {
  struct xds_header *h = w->h;
  int slot = head_slot(h);
  if (slot < 0) return 0;
  struct xds_slot *s = &h->slots[slot];
  uint64_t used = s->length + s->log_end, by_capacity = h->slot_capacity > used ? h->slot_capacity - used : 0;
  uint64_t by_snapshot = s->length + XDS_LOG_SLACK > s->log_end ? s->length + XDS_LOG_SLACK - s->log_end : 0;
  uint64_t room = by_capacity < by_snapshot ? by_capacity : by_snapshot;
  return room > sizeof(struct xds_record) ? room - sizeof(struct xds_record) : 0;
}

/* Appends a delta record (entries changed since the latest publication) to the slot holding that
 * publication; returns its generation, or 0 (with a message) when it does not fit the delta room. */
uint64_t amesh_xds_writer_publish_delta(struct amesh_xds_writer *w, const uint8_t *data, uint64_t length, uint64_t count, char *error, size_t error_len) {
  struct xds_header *h = w->h;
  if (length > amesh_xds_writer_delta_room(w)) {
    fail(error, error_len, "a delta of %" PRIu64 " bytes does not fit the log: publish the whole state", length);
    return 0;
  }
  int slot = head_slot(h);
  struct xds_slot *s = &h->slots[slot];
  uint64_t generation = w->next_generation++;
  struct xds_record record = {.generation = generation, .length = length, .count = count};
  uint8_t *at = xds_slot_data(h, slot) + s->length + s->log_end;
  memcpy(at, &record, sizeof record);
  memcpy(at + sizeof record, data, length);
  XDS_STORE(&s->log_end, s->log_end + sizeof record + length);
  XDS_STORE(&s->last_generation, generation);
  announce(h, generation);
  return generation;
}

static void copy_status(struct amesh_xds_writer *w, struct xds_status *out) {
  struct xds_status *s = &w->h->status;
  out->applied_generation = XDS_LOAD(&s->applied_generation);
  out->failed_generation = XDS_LOAD(&s->failed_generation);
  out->heartbeat_ms = XDS_LOAD(&s->heartbeat_ms);
  out->dict_keys = s->dict_keys;
  out->reader_pid = s->reader_pid;
  out->error_code = s->error_code;
  memcpy(out->error_key, s->error_key, XDS_TEXT);
  memcpy(out->error_message, s->error_message, XDS_TEXT);
  out->error_key[XDS_TEXT - 1] = out->error_message[XDS_TEXT - 1] = '\0';
}

/* 1: applied (or superseded by a newer applied one), -1: the reader failed it, 0: timed out. Blocks. */
int amesh_xds_writer_wait(struct amesh_xds_writer *w, uint64_t generation, uint32_t timeout_ms, struct xds_status *out) {
  uint64_t deadline = xds_now_ms(CLOCK_MONOTONIC) + timeout_ms;
  for (;;) {
    uint32_t seen = XDS_LOAD(&w->h->ack_seq);
    copy_status(w, out);
    if (out->applied_generation >= generation) return 1;
    if (out->failed_generation >= generation) return -1;
    uint64_t now = xds_now_ms(CLOCK_MONOTONIC);
    if (now >= deadline) return 0;
    xds_futex_wait(&w->h->ack_seq, seen, (uint32_t)(deadline - now));
  }
}

void amesh_xds_writer_status(struct amesh_xds_writer *w, struct xds_status *out) { copy_status(w, out); }

void amesh_xds_writer_close(struct amesh_xds_writer *w) {
  if (!w) return;
  munmap(w->h, w->map_len);
  close(w->fd);
  free(w);
}
