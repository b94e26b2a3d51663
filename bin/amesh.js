#!/usr/bin/env node
// Runs the compiled CLI (npm run build); during development use `npm run amesh -- …`.
import '../dist/src/app/main.js';
