-- The operators' dashboard counts sign-ins per hour over a week: a range
-- of this index per action.
CREATE INDEX IF NOT EXISTS audit_events_action_time ON audit_events (action, occurred_at);
