/*
 * keys.h — the key hierarchy of a running gateway (docs/security.md):
 *
 *   master key ──HKDF "org-data-keys"──▶ KEK: wraps every data key stored in the control database
 *                                          ├─ each org's data key (orgs.data_key): its call logs
 *                                          └─ the control data key (control_keys "control"), from which
 *                                             HKDF derives the provider-key, session-token, identity and
 *                                             webhook-secret keys
 *
 * Rotating the master key therefore only re-wraps data keys (one transaction, milliseconds), never
 * re-encrypts data. The control data key is created on first use equal to the master key of that time, so
 * every key derived from it is the one derived from the master key before this hierarchy existed, and data
 * sealed then still opens.
 *
 * Wrapped keys carry the KEK's id (ig_kek_id: never 0; 0 = wrapped before ids existed, by the first master
 * key), so a rotation can tell what is already done.
 */
#ifndef IG_APP_KEYS_H
#define IG_APP_KEYS_H

#include "store/store.h"

#include <stdint.h>

typedef struct ig_keys {
    uint8_t kek[32];
    uint32_t kek_id;
    uint8_t provider[32], session[32], identity[32], webhook[32];
} ig_keys_t;

/* The KEK of a master key and its id. */
int ig_kek_of(const uint8_t master[32], uint8_t kek[32], uint32_t *id);
/* Opens (creating on first use) the control data key with master and derives every key. IG_ECRYPTO when the
 * stored control key does not unwrap under this master key. */
int ig_keys_load(ig_store_t *st, const uint8_t master[32], ig_keys_t *out);
/* Re-wraps every data key from old_master to new_master in ONE transaction. With only_old, keys already
 * wrapped under new_master are left alone (the straggler pass). *n = keys re-wrapped. */
int ig_keys_rewrap(ig_store_t *st, const uint8_t old_master[32], const uint8_t new_master[32], size_t *n);
void ig_keys_clear(ig_keys_t *k);

#endif
