#!/usr/bin/env node
// Runs the built CLI: the bundle (npm run build:bundle, what images ship) when present, else the tsc
// build (npm run build). During development use `npm run amesh -- …`.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/main.js', import.meta.url);
await import(existsSync(bundle) ? bundle.href : '../dist/src/app/main.js');
