-- First-start SQL for farm @@FARM_NAME@@ (rendered by wpfarm); run once by the bootstrap
-- node's entrypoint. No account is created here: the deploy's "db accounts" step
-- (wpfarm_tui/stacks/accounts.py, after the first Galera node is up) creates each one with
-- its grants and its password from its Docker secret, so no password is ever written here.
CREATE DATABASE IF NOT EXISTS wpfarm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
