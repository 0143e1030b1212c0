console.log("notify")
