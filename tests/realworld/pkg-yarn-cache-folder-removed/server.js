console.log('kiosk');
