vcl 4.1;
# Varnish VCL for farm @@FARM_NAME@@ (rendered by wpfarm; do not edit here).
# One backend: Traefik's internal `sites` entry point, which routes by Host to each site.

import std;

@@VCL_BACKENDS@@
@@VCL_PURGE@@
sub vcl_recv {
@@VCL_ROUTING@@
    call wpfarm_purge;
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Never cached: the admin, the login page, previews, REST/cron/AJAX and logged-in users.
    if (req.url ~ "^/wp-(admin|login\.php|cron\.php)" || req.url ~ "^/wp-json/"
        || req.url ~ "[?&](preview|preview_id|p)=" || req.url ~ "/xmlrpc\.php") {
        return (pass);
    }
    if (req.http.Cookie ~ "(wordpress_logged_in_|wordpress_sec_|wp-postpass_|comment_author_|woocommerce_items_in_cart|wp_woocommerce_session_)") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    # Anonymous visitors: other cookies (analytics, consent) would only split the cache.
    unset req.http.Cookie;
    return (hash);
}

sub vcl_backend_response {
    # Kept on the object so bans can match obj.http.x-host (lurker-friendly).
    set beresp.http.x-host = bereq.http.host;
    set beresp.http.x-url = bereq.url;
    if (bereq.url ~ "^/wp-(admin|login\.php)" || beresp.http.Set-Cookie) {
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
        return (deliver);
    }
    if (beresp.status >= 500) {
        set beresp.ttl = 0s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    if (!beresp.http.Cache-Control ~ "max-age" && beresp.ttl < 10m) {
        set beresp.ttl = 10m;   # the architecture's HTML TTL: 10 minutes - 1 hour
    }
    set beresp.grace = 6h;      # serve stale while a backend recovers
}

sub vcl_pass {
    # Remembered for vcl_deliver: a pass is neither a hit nor a miss for the hit ratio.
    set req.http.X-Wpfarm-Pass = "1";
}

sub vcl_deliver {
    if (req.http.X-Wpfarm-Pass) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    # Internal ban headers are not for clients.
    unset resp.http.x-host;
    unset resp.http.x-url;
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}

sub vcl_synth {
    set resp.http.Content-Type = "text/plain; charset=utf-8";
    synthetic(resp.reason);
    return (deliver);
}
