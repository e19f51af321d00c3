-- SRP verifiers, MFA settings and the last TOTP step accepted per user.
ALTER TABLE users ADD COLUMN srp_salt TEXT;
ALTER TABLE users ADD COLUMN srp_verifier TEXT;
ALTER TABLE users ADD COLUMN mfa JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
