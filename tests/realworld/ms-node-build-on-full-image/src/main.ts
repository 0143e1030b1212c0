console.log('board');
