console.log('bridge');
