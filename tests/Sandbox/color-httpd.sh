# One colour of the blue-green pair (tests/Sandbox/Sandbox.ps1 runs it as a Swarm service, tests as services or
# containers of their own): busybox httpd in the foreground on 127.0.0.1:$PORT, serving /health and a /version marker
# "$PUO_COLOR $PUO_IMAGE" that says which colour and image answered. $PUO_WWW (default /tmp/www) holds the two files.
www="${PUO_WWW:-/tmp/www}"
mkdir -p "$www" && echo '{"status":"healthy"}' > "$www/health" && echo "$PUO_COLOR $PUO_IMAGE" > "$www/version" && exec busybox httpd -f -p "127.0.0.1:$PORT" -h "$www"
