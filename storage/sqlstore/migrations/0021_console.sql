-- The operators' dashboard counts sign-ins per hour over a week: a range
-- of this index per action.
CREATE INDEX IF NOT EXISTS audit_events_action_time ON audit_events (action, occurred_at);

-- The console's company page lists every registration filed under its NIB
-- (registrations_open_nib covers only open ones).
CREATE INDEX IF NOT EXISTS registrations_nib ON registrations (nib, submitted_at);
