require('express')().get('/', (q, r) => r.send('ok')).listen(8080);
