import { Hono } from "hono";
Deno.serve(new Hono().fetch);
