#!/bin/sh
echo "not a manifest"
