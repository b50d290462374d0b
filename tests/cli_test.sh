#!/bin/sh
# placeholder until the CLI suite lands
echo "cli: 0 passed, 0 failed"
