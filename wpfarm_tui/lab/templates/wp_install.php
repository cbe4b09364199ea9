<?php
// Installs one lab site once (there is no WP-CLI here). Usage (as www-data):
//   WPFARM_WP_ADMIN_PW=... php wp_install.php HOST TITLE
$host = $argv[1];
$_SERVER['HTTP_HOST'] = $host;
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if (is_blog_installed()) {
    echo "already installed\n";
} else {
    $r = wp_install($argv[2], 'admin', 'admin@' . $host, false, '', getenv('WPFARM_WP_ADMIN_PW'));
    echo "installed user_id={$r['user_id']}\n";
}
// The lab ships its own tiny theme (Debian's themes are only recommended packages).
if (get_option('stylesheet') !== 'wpfarm-lab') {
    switch_theme('wpfarm-lab');
}
