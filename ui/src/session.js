// session.js — who is signed in, and what their role lets them do. The API enforces every rule; the pages use
// this only to hide or disable what the role may not use.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export const ROLES = ['viewer', 'member', 'admin', 'owner'];

export const rank = (role) => ROLES.indexOf(role);

/** {user, org: {id, slug, role}, orgs, role, can(minRole), plan, switchOrg(id), signOut(), refreshMe()} */
export const SessionContext = createContext(null);

export function useSession() {
  return useContext(SessionContext);
}

/** What each plan allows (docs/identity.md, docs/budgets.md, docs/webhooks.md); shown next to the settings. */
export const PLANS = {
  free: {
    name: 'Free',
    retention: [7],
    redaction: false,
    guardrails: false,
    budgets: 0,
    webhooks: 0,
  },
  enterprise: {
    name: 'Enterprise',
    retention: [30, 60, 90, 0],
    redaction: true,
    guardrails: true,
    budgets: 100,
    webhooks: 25,
  },
};
