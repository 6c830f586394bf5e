/*
 * budget.h — spend budgets on the proxy path: calendar periods and the reserve-then-settle ledger.
 *
 * A budget (scope org, app or key) has a hard limit and optionally a soft limit in micro-USD per period;
 * periods are calendar-aligned in UTC: a day starts at 00:00, a week on Monday 00:00 (ISO 8601), a month on
 * its first day at 00:00.
 *
 * Reserve, then settle. Before a request goes upstream its worst-case cost (the model's output price times
 * max_tokens — or a documented default — plus its input estimate) is RESERVED on every budget that applies:
 *     admitted iff spent + reserved + estimate ≤ hard limit
 * and refused otherwise (429 budget_exceeded); nothing is reserved on any budget when one refuses. When the
 * call finishes — complete, failed or aborted by the client — its reservation is replaced by the actual
 * cost (ig_budget_settle). So concurrent requests cannot push spend past the hard limit except by what a
 * call costs beyond its own reservation (a response longer than max_tokens allows, or a request without
 * max_tokens that outspends the default estimate).
 *
 * Alerts, once per period each (the caller emits budget.warning / budget.exceeded): IG_BUDGET_CROSSED_SOFT
 * at the first settlement that brings spent to the soft limit or beyond; IG_BUDGET_CROSSED_HARD at the first
 * settlement that reaches the hard limit or the first refusal, whichever comes first (with reservations,
 * spend usually stops just short of the limit: the first request that no longer fits is when the budget
 * ran out for its users).
 *
 * The alert bits of the ledger say "claimed for this period": by this node (a crossing reported by reserve
 * or settle) or by anyone (loaded from the store). The store decides which node emits (the first to record
 * the bit); a crossing that could not be recorded or queued is given back with ig_budget_unmark, so the next
 * crossing reports it again instead of losing it.
 *
 * The ledger holds the state of the current period of each budget in memory (one node); the caller loads
 * the persisted spend of the period when it first sees a budget (ig_budget_load) and persists what
 * settlements return. A load MERGES: it never lowers the spend the ledger holds for the period, never drops
 * reservations in flight, never clears an alert bit, and never replaces a newer rule by an older one (rules
 * carry a version), so loading from a stale org snapshot cannot roll the ledger back. A period change resets
 * spend; reservations made in the old period settle into the period they were made in (their spend is not
 * counted in the new one). Thread-safe (one mutex).
 */
#ifndef IG_LIMIT_BUDGET_H
#define IG_LIMIT_BUDGET_H

#include "core/common.h"

#include <stdint.h>

typedef enum { IG_BUDGET_DAILY = 0, IG_BUDGET_WEEKLY, IG_BUDGET_MONTHLY } ig_budget_period_t;

/* Start of the period holding now_ms (unix ms, UTC), and the start of the next one. */
int64_t ig_budget_period_start(ig_budget_period_t p, int64_t now_ms);
int64_t ig_budget_period_next(ig_budget_period_t p, int64_t now_ms);

#define IG_BUDGET_ID_MAX 33 /* 32 hex chars + NUL */

typedef struct {
    char id[IG_BUDGET_ID_MAX];
    ig_budget_period_t period;
    int64_t hard_micros; /* > 0 */
    int64_t soft_micros; /* 0 = none; else ≤ hard */
    int64_t version;     /* when the rule last changed (the store's updated_at, unix ms): newer wins */
} ig_budget_rule_t;

enum { IG_BUDGET_CROSSED_SOFT = 1, IG_BUDGET_CROSSED_HARD = 2 };

typedef struct ig_budget_ledger ig_budget_ledger_t;

ig_budget_ledger_t *ig_budget_ledger_new(void);
void ig_budget_ledger_free(ig_budget_ledger_t *l);

/* Whether the ledger holds the current period of the budget (by the newest rule it was given; else the
 * caller loads it first). */
bool ig_budget_known(ig_budget_ledger_t *l, const char *id, int64_t now_ms);
/* Merges what was persisted for the budget into the ledger: spent so far in the period of b holding now_ms
 * and the alerts already claimed for it (IG_BUDGET_CROSSED_* bits). The rule kept is the newer of the
 * ledger's and b (by version; b on a tie); its period decides the current period. Within the period the
 * ledger already holds, spend becomes max(held, spent_micros), alert bits are OR-ed, reservations stay;
 * when the period changes, the state starts from spent_micros and alerted (when they are of that period,
 * else from zero) and reservations of the old period are no longer counted. IG_EINVAL for a bad rule. */
int ig_budget_load(ig_budget_ledger_t *l, const ig_budget_rule_t *b, int64_t now_ms, int64_t spent_micros,
                   unsigned alerted);

/* One reservation: the budgets it holds and how much on each, to settle later. */
#define IG_BUDGET_MAX_PER_CALL 3 /* org + app + key */
typedef struct {
    int n;
    char id[IG_BUDGET_MAX_PER_CALL][IG_BUDGET_ID_MAX];
    int64_t period_start[IG_BUDGET_MAX_PER_CALL];
    int64_t amount;
} ig_budget_hold_t;

/* The state of one budget, as a status endpoint shows it. */
typedef struct {
    int64_t period_start, spent_micros, reserved_micros;
    unsigned alerted;
} ig_budget_state_t;

/* Reserves estimate_micros (≥ 0) on each of the n budgets (all must be loaded for the current period of
 * the newest rule, else IG_ENOTFOUND; a rule in bs at least as new as the ledger's replaces it first). IG_OK:
 * all held, *hold filled. IG_ETOOMANY: refused, nothing held; *refused_by = the index in bs of the first
 * budget that refused, *state its state; *crossed may get IG_BUDGET_CROSSED_HARD (first refusal of the
 * period). IG_EINVAL on bad arguments. */
int ig_budget_reserve(ig_budget_ledger_t *l, const ig_budget_rule_t *bs, int n, int64_t estimate_micros,
                      int64_t now_ms, ig_budget_hold_t *hold, int *refused_by, ig_budget_state_t *state,
                      unsigned *crossed);

/* Replaces a hold by the actual cost (≥ 0; -1 = unknown: the reservation is charged), against the limits
 * last given for each budget. For each budget i of the hold, crossed[i] gets the alerts to send now and
 * spent[i] the period's spend after the settlement (to persist). A hold whose period has ended meanwhile
 * charges its old period: spent[i] = -1 then (the caller adds the cost to the stored old period). Settling
 * twice is a bug (the hold is zeroed). */
void ig_budget_settle(ig_budget_ledger_t *l, ig_budget_hold_t *hold, int64_t actual_micros,
                      unsigned crossed[IG_BUDGET_MAX_PER_CALL], int64_t spent[IG_BUDGET_MAX_PER_CALL]);

/* Clears alert bits (IG_BUDGET_CROSSED_*) of the budget's period starting at period_start that a crossing
 * reported but that could not be recorded or queued: the next crossing in the period reports them again.
 * No-op when the ledger has moved on to another period or forgot the budget. */
void ig_budget_unmark(ig_budget_ledger_t *l, const char *id, int64_t period_start, unsigned bits);

/* Gives a hold back without charging anything (the call never went upstream: refused later on the proxy
 * path). No alert can result. Releasing a zeroed hold is a no-op; the hold is zeroed. */
void ig_budget_release(ig_budget_ledger_t *l, ig_budget_hold_t *hold);

/* The budget's current state (IG_ENOTFOUND when not loaded for the period holding now_ms). */
int ig_budget_state(ig_budget_ledger_t *l, const char *id, int64_t now_ms, ig_budget_period_t p,
                    ig_budget_state_t *out);
/* Forgets a budget (deleted or changed). */
void ig_budget_forget(ig_budget_ledger_t *l, const char *id);

#endif
