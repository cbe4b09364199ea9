-- First-start SQL for farm @@FARM_NAME@@ (rendered by wpfarm); run once by the bootstrap
-- node's entrypoint. The accounts are created LOCKED: the deploy step sets each password
-- from its Docker secret (ALTER USER ... IDENTIFIED BY ... ACCOUNT UNLOCK), so no password
-- is ever written here and no account is usable without one.
CREATE USER IF NOT EXISTS 'mariabackup'@'%' ACCOUNT LOCK;
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO 'mariabackup'@'%';
CREATE USER IF NOT EXISTS 'monitor'@'%' ACCOUNT LOCK;
GRANT USAGE, REPLICATION CLIENT ON *.* TO 'monitor'@'%';
CREATE USER IF NOT EXISTS 'exporter'@'%' WITH MAX_USER_CONNECTIONS 3 ACCOUNT LOCK;
GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO 'exporter'@'%';
CREATE USER IF NOT EXISTS 'backup'@'%' ACCOUNT LOCK;
GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, RELOAD, PROCESS ON *.* TO 'backup'@'%';
CREATE DATABASE IF NOT EXISTS wpfarm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'wordpress'@'%' ACCOUNT LOCK;
GRANT ALL PRIVILEGES ON `wp\_%`.* TO 'wordpress'@'%';
