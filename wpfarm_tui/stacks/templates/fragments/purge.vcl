# Who may PURGE and BAN (fragments/purge.vcl: the farm's VCL and the loopback lab's).
# Both checks must pass: the client is on a private network, and it sends the farm's purge
# token in @@PURGE_HEADER@@. The address alone proves nothing: every public request reaches
# Varnish from Traefik's private address (and Traefik refuses these methods from the
# internet anyway). The token is read from @@PURGE_TOKEN_FILE@@ (a Docker secret
# in the farm) the first time it is needed, so it is in no image, argv or rendered file.
acl purgers {
    "127.0.0.1";
    "10.0.0.0"/8;
    "172.16.0.0"/12;
    "192.168.0.0"/16;
}

sub wpfarm_purge {
    if (req.method == "PURGE" || req.method == "BAN") {
        # A missing or empty token file refuses everyone, never accepts an empty header.
        if (!client.ip ~ purgers || !req.http.@@PURGE_HEADER@@
            || regsub(std.fileread("@@PURGE_TOKEN_FILE@@"), "\s+$", "") == ""
            || req.http.@@PURGE_HEADER@@ != regsub(std.fileread("@@PURGE_TOKEN_FILE@@"), "\s+$", "")) {
            return (synth(403, req.method + " not allowed"));
        }
    }
    # Never passed on to a backend, nor into its logs.
    unset req.http.@@PURGE_HEADER@@;
    if (req.method == "PURGE") {
        return (purge);
    }
    if (req.method == "BAN") {
        # Lurker-friendly: match only obj.* so the ban lurker can evict in the background.
        if (req.http.X-Ban-Url) {
            ban("obj.http.x-host == " + req.http.host + " && obj.http.x-url ~ " + req.http.X-Ban-Url);
        } else {
            ban("obj.http.x-host == " + req.http.host);
        }
        return (synth(200, "Banned"));
    }
}
