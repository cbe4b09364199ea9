-- The farm's site registry: kept on Galera so the console and the CLI on any
-- bastion read the same list. Idempotent.
CREATE DATABASE IF NOT EXISTS wpfarm;
CREATE TABLE IF NOT EXISTS wpfarm.sites (
  domain        VARCHAR(253) NOT NULL PRIMARY KEY,
  aliases       TEXT         NOT NULL DEFAULT '',
  db_name       VARCHAR(64)  NOT NULL,
  db_user       VARCHAR(80)  NOT NULL,
  state         ENUM('active','suspended','creating','deleting') NOT NULL DEFAULT 'active',
  created_at    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  php_memory_limit VARCHAR(16) NOT NULL DEFAULT '256M',
  notes         TEXT         NOT NULL DEFAULT ''
) ENGINE=InnoDB;
