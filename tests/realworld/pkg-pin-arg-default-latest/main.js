const Koa = require('koa');
new Koa().use(ctx => { ctx.body = 'ok'; }).listen(3000);
