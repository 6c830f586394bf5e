/*
 * budgetgate.h — spend budgets on the proxy path (docs/budgets.md): after the rate limits, before anything
 * goes upstream, the call's worst-case cost is reserved on every budget of its caller (the org's, its key's
 * app's, its key's) in this node's ledger (limit/budget.h), or the call is refused with 429 budget_exceeded.
 * The reservation travels with the capture record; the log writer replaces it by the call's actual cost (the
 * same pricing table as usage) and emits the alerts.
 *
 * The worst case (ig_budget_estimate_micros): input tokens estimated as ceil(body bytes / 4), priced at the
 * model's input price (or its cache-write price when dearer), plus max_tokens (or
 * IG_BUDGET_DEFAULT_MAX_TOKENS when the request names none) at its output price, each rounded up to a whole
 * micro-USD. A model without a price reserves IG_BUDGET_UNPRICED_MICROS, and that is what it is charged
 * unless the answer gets a price.
 *
 * Loop threads only: no store access (the budgets and their persisted spend come with the org snapshot).
 */
#ifndef IG_PROXY_BUDGETGATE_H
#define IG_PROXY_BUDGETGATE_H

#include "app/gateway.h"
#include "capture/capture.h"
#include "capture/pricing.h"
#include "core/limits.h"

/* The worst-case cost in micro-USD of a request of body_bytes whose output cap is max_tokens (<= 0: the
 * default) at price p (NULL: no price, IG_BUDGET_UNPRICED_MICROS). Saturates at INT64_MAX. */
int64_t ig_budget_estimate_micros(const ig_price_t *p, int64_t body_bytes, int64_t max_tokens);

/* Applies the caller's budgets (Enterprise orgs; none: admitted at once). true: admitted, and b holds the
 * reservation (b->ledger NULL when no budget applies); false: the answer was sent — 429 {"error": "budget
 * exceeded", "error_code": "budget_exceeded", "budget_id", "current_spend", "hard_limit_usd"} (nothing
 * reserved; the first refusal of a period is queued to the log writer, which emits budget.exceeded), or
 * 503 when out of memory. on_refused (may be NULL) runs with ctx just before a refusal is answered: the
 * proxy gives back what the rate limits took, so the answer's limit headers describe that. A reservation
 * not handed over by the time the request's pool is freed is given back (the call never went upstream). b
 * must live in req->pool memory. model ("" = none) is the request's; max_tokens is the output to reserve
 * for: its max_tokens (or the default) times the answers it asks for (n, best_of); -1 = the default for
 * one answer. */
bool ig_budget_gate_admit(ig_req_t *req, ig_reqstate_t *rs, const char *model, int64_t max_tokens,
                          ig_capture_budget_t *b, void (*on_refused)(void *ctx), void *ctx);
/* Moves b's reservation into the capture record (the writer settles it); b is left empty. */
void ig_budget_gate_hand_over(ig_capture_budget_t *b, ig_capture_rec_t *rec);

#endif
