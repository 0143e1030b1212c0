console.log('quotes');
