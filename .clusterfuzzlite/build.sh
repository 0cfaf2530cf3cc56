#!/bin/bash -eu
# ClusterFuzzLite build: the same as the OSS-Fuzz one, which is kept in tools/oss-fuzz/ because
# OSS-Fuzz copies that script on its own. The repository is at $SRC/iommufuzz on both platforms.
exec bash -eu "$SRC/iommufuzz/tools/oss-fuzz/build.sh"
