#!/bin/sh
echo "$GREETING"
echo "running as $(id -un) (uid $(id -u)) in $(pwd), pid $$"
cat /app/built-by
