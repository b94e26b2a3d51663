/* A parsed configuration state: a private copy of one slot with a hash index over its keys. */
#ifndef AMESH_XDS_STATE_H
#define AMESH_XDS_STATE_H

#include <stddef.h>
#include <stdint.h>

struct xds_entry {
  const uint8_t *key;
  const uint8_t *value;
  uint32_t key_len;
  uint32_t value_len;
};

struct xds_state {
  uint8_t *buffer;
  size_t length;
  struct xds_entry *entries;
  size_t count;
  uint32_t *table; /* open addressing: entry index + 1, 0 = empty */
  size_t table_size;
};

/* Takes ownership of `buffer` (malloc'd). Returns 0, or -1 with a message in `error`. */
int xds_state_parse(struct xds_state *state, uint8_t *buffer, size_t length, size_t count, char *error, size_t error_len);
/* Index of the entry with this key, or -1. */
long xds_state_find(const struct xds_state *state, const uint8_t *key, uint32_t key_len);
void xds_state_free(struct xds_state *state);

#endif
