console.log('signal');
