/*
 * Layout of the shared-memory file between the amesh agent (writer) and libxds.so inside nginx
 * (reader). One header page, then two slots. A slot holds a complete state (the snapshot, whose
 * generation is the slot's `generation`) followed by an append-only log of delta records, each the
 * next generation: snapshot + records up to G is the complete state of G, so a reloaded nginx can
 * always rebuild, while a running one applies just the record.
 *
 * A snapshot goes into the slot whose chain does NOT hold the generation nginx has applied (so a
 * restarted worker can always rebuild from it), guarded by a seqlock: the slot's generation is 0
 * while it is rewritten. A delta record is appended after `log_end` of the slot holding the latest
 * publication, then `log_end` and `last_generation` move: bytes before `log_end` never change while
 * the slot's generation stays. nginx copies what it reads, re-checks the slot's generation, and
 * only then applies it: a half-written batch is never applied.
 *
 * Snapshot payload: `count` entries, each [u32 key_len][u32 value_len][key][value], little endian,
 * in the order the agent wants them stored (dependencies first). A delta record is a
 * struct xds_record, then `count` entries in the same format where value_len XDS_DELETED (and no
 * value bytes) deletes the key.
 */
#ifndef AMESH_XDS_LAYOUT_H
#define AMESH_XDS_LAYOUT_H

#include <stdint.h>

#define XDS_MAGIC 0x3153444853454d41ULL /* "AMESHDS1" little endian */
#define XDS_LAYOUT 2u
#define XDS_HEADER_SIZE 4096u
#define XDS_TEXT 256
#define XDS_DELETED 0xffffffffu

/* Error codes the reader reports in xds_status.error_code. */
enum xds_error {
  XDS_OK = 0,
  XDS_E_STORE = 1,     /* ngx_http_lua_ffi_shdict_store failed (e.g. "no memory") */
  XDS_E_MALFORMED = 2, /* the slot does not parse */
  XDS_E_NO_SHDICT = 3, /* the store symbol is not in the process (not inside lua-nginx-module) */
  XDS_E_ROLLBACK = 4,  /* a failed batch could not be undone: the next batch rewrites everything */
};

struct xds_slot {
  uint64_t generation;      /* of the snapshot; 0 while the agent rewrites the slot */
  uint64_t length;          /* snapshot bytes */
  uint64_t count;           /* snapshot entries */
  uint64_t log_end;         /* bytes of delta records after the snapshot */
  uint64_t last_generation; /* of the last record (the snapshot's when there is none) */
};

struct xds_record {
  uint64_t generation;
  uint64_t length; /* entry bytes after this header */
  uint64_t count;
};

/* What the reader writes back. */
struct xds_status {
  uint64_t applied_generation;
  uint64_t failed_generation;
  uint64_t heartbeat_ms; /* CLOCK_REALTIME, refreshed at least every second while a reader runs */
  uint64_t dict_keys;    /* keys of ours in xds-config after the last apply */
  uint32_t reader_pid;
  int32_t error_code;
  char error_key[XDS_TEXT];
  char error_message[XDS_TEXT];
};

struct xds_header {
  uint64_t magic; /* written last when the file is created */
  uint32_t layout;
  uint32_t header_size;
  uint64_t slot_capacity;
  uint64_t file_id; /* random per file: the dict marker names the file its content came from */
  /* agent → nginx */
  uint64_t published_generation;
  uint32_t publish_seq; /* futex word, bumped after each publication */
  uint32_t ack_seq;     /* futex word, bumped by the reader after each apply attempt */
  struct xds_slot slots[2];
  /* nginx → agent */
  struct xds_status status;
};

_Static_assert(sizeof(struct xds_header) <= XDS_HEADER_SIZE, "header fits its page");

static inline uint64_t xds_file_size(uint64_t slot_capacity) { return XDS_HEADER_SIZE + 2 * slot_capacity; }

static inline uint8_t *xds_slot_data(struct xds_header *h, int slot) {
  return (uint8_t *)h + XDS_HEADER_SIZE + (uint64_t)slot * h->slot_capacity;
}

#endif
