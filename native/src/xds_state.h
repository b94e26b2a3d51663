/*
 * A configuration state as the reader holds it: a hash map of keys to values that batches update in
 * place (a delta touches only its keys), remembering insertion order so that deletions of a whole
 * state can go dependents-first (reverse order). Also the parser of the entry format shared by
 * snapshots and delta records.
 */
#ifndef AMESH_XDS_STATE_H
#define AMESH_XDS_STATE_H

#include <stddef.h>
#include <stdint.h>

struct xds_entry {
  struct xds_entry *bucket_next, *prev, *next;
  uint64_t hash;
  uint32_t key_len, value_len;
  uint8_t data[]; /* key, then value */
};

static inline const uint8_t *xds_entry_value(const struct xds_entry *e) { return e->data + e->key_len; }

struct xds_state {
  struct xds_entry **buckets;
  size_t bucket_count, count;
  struct xds_entry *first, *last; /* insertion order */
};

/* One parsed entry of a payload; `deleted` only in delta records. Pointers into the payload. */
struct xds_op {
  const uint8_t *key, *value;
  uint32_t key_len, value_len;
  int deleted;
};

const struct xds_entry *xds_state_find(const struct xds_state *state, const uint8_t *key, uint32_t key_len);
/* Inserts or replaces (an existing key keeps its place in the order). 0, or -1 out of memory. */
int xds_state_put(struct xds_state *state, const uint8_t *key, uint32_t key_len, const uint8_t *value, uint32_t value_len);
void xds_state_remove(struct xds_state *state, const uint8_t *key, uint32_t key_len);
/* Applies `count` entries of `payload` (all of it) to `state`. 0, or -1 with a message in `error`. */
int xds_state_apply(struct xds_state *state, const uint8_t *payload, size_t length, size_t count, int deltas_allowed, char *error, size_t error_len);
/* Parses the entry at *offset and advances it. 0, or -1 with a message in `error`. */
int xds_next_op(const uint8_t *payload, size_t length, size_t *offset, struct xds_op *op, int deltas_allowed, char *error, size_t error_len);
void xds_state_free(struct xds_state *state);

#endif
