import { Bot } from "https://deno.land/x/grammy@v1.24.0/mod.ts";
new Bot("t").start();
